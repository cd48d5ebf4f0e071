package cluster

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/machine"
	"github.com/outpost-status/outpost/status/store"
)

// member is one node of an in-process cluster: its store, machine and
// raft, on a loopback listener of its own.
type member struct {
	id   string
	cfg  *config.Config
	st   *store.Store
	mach *machine.Machine
	node *Node
	ln   net.Listener
}

// threeNodes writes certificates and one config naming three loopback
// addresses, and returns the members (not yet started).
func threeNodes(t testing.TB) []*member {
	t.Helper()
	return nodesOf(t, "ams", "nyc", "sgp")
}

// nodesOf is threeNodes for the members ids.
func nodesOf(t testing.TB, ids ...string) []*member {
	t.Helper()
	srcs, lns := clusterSources(t, ids...)
	var out []*member
	for i, id := range ids {
		out = append(out, &member{id: id, cfg: memberConfig(t, id, srcs[i]), ln: lns[i]})
	}
	return out
}

// clusterSources writes certificates for ids and returns each member's
// config (its own storage path; otherwise the same) and the loopback
// listeners the config names, one per member.
func clusterSources(t testing.TB, ids ...string) (srcs []string, lns []net.Listener) {
	t.Helper()
	certs := certsDir(t, 30, ids...)
	var nodes []string
	for i, id := range ids {
		ln := listenLow(t)
		lns = append(lns, ln)
		nodes = append(nodes, fmt.Sprintf("    - {id: %s, address: %q, location: loc-%d}", id, ln.Addr().String(), i))
	}
	dir := t.TempDir()
	for _, id := range ids {
		srcs = append(srcs, fmt.Sprintf(`site: {title: T}
storage: {path: %q}
components: [{id: api, name: API}]
checks:
  - {name: api-1, component: api, kind: tcp, target: "127.0.0.1:1", interval: 30s, failure_threshold: 2, success_threshold: 1}
cluster:
  nodes:
%s
  tls: {ca_file: %q, cert_file: "%s/${OUTPOST_NODE}.pem", key_file: "%s/${OUTPOST_NODE}-key.pem"}
`, filepath.Join(dir, id, "outpost.db"), strings.Join(nodes, "\n"), filepath.Join(certs, "ca.pem"), certs, certs))
	}
	return srcs, lns
}

// memberConfig parses src as member id's config (${OUTPOST_NODE} is id).
func memberConfig(t testing.TB, id, src string) *config.Config {
	t.Helper()
	lookup := func(k string) (string, bool) { return id, k == config.NodeEnv }
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "c.yaml"), []byte(src), config.LoadOptions{Lookup: lookup})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// listenLow listens on 127.0.0.1 at a free port below Linux's ephemeral
// range (32768–60999): a stopped member listens on its address again when
// it starts, and a port the kernel handed out for ":0" is as likely to be
// handed out again meanwhile, as another test's listener or the source
// port of an outgoing connection (as status/node's freePort). This
// package draws from 25000–28999, its own part (see cmd/outpost's
// listenLow).
func listenLow(t testing.TB) net.Listener {
	t.Helper()
	for range 100 {
		if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 25000+rand.IntN(4000))); err == nil {
			return ln
		}
	}
	t.Fatal("no free port below the ephemeral range in 100 tries")
	return nil
}

// start opens the member's store and machine and joins the cluster.
func (m *member) start(t testing.TB, threshold uint64) {
	t.Helper()
	var err error
	if m.st, err = store.Open(m.cfg.Storage.Path, store.Options{}); err != nil {
		t.Fatal(err)
	}
	if m.mach, err = machine.New(machine.Options{Store: m.st, Model: m.cfg.Model()}); err != nil {
		t.Fatal(err)
	}
	if m.ln == nil {
		if m.ln, err = net.Listen("tcp", m.address()); err != nil {
			t.Fatal(err)
		}
	}
	// Compaction as the config sets it: a snapshot looked for often, and
	// with a threshold, only that many entries kept behind it.
	cl := m.cfg.Cluster
	cl.SnapshotThreshold, cl.TrailingLogs, cl.SnapshotInterval = threshold, threshold, 100*time.Millisecond
	log := slog.New(slog.DiscardHandler)
	if m.node, err = Start(Options{Config: m.cfg, Machine: m.mach, Store: m.st, Logger: log, Listener: m.ln}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.stop)
}

func (m *member) address() string {
	for _, n := range m.cfg.Cluster.Nodes {
		if n.ID == m.id {
			return n.Address
		}
	}
	return ""
}

// stop leaves the cluster and closes the files (a clean stop).
func (m *member) stop() {
	if m.node != nil {
		m.node.Close()
		m.node, m.ln = nil, nil
	}
	if m.st != nil {
		m.st.Close()
		m.st = nil
	}
}

func eventually(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 20 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// results is one run of api-1 by node, from its location (threeNodes
// puts ams, nyc and sgp at loc-0, loc-1 and loc-2: three locations, so
// the check's status is their vote).
func results(at time.Time, node string, o probes.Outcome) store.Entry {
	r := status.CheckResult{Check: "api-1", At: at, Result: probes.Result{Outcome: o, Reason: probes.ReasonTimeout}}
	loc := map[string]string{"ams": "loc-0", "nyc": "loc-1", "sgp": "loc-2"}[node]
	return store.Entry{At: at, Inputs: store.NewInputs([]status.CheckResult{r}, nil, node, loc)}
}

func contents(t *testing.T, st *store.Store) map[string]string {
	t.Helper()
	c, err := st.Contents()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sameContents(a, b map[string]string) string {
	for k, v := range a {
		if b[k] != v {
			return fmt.Sprintf("%q: %q / %q", k, v, b[k])
		}
	}
	if len(a) != len(b) {
		return fmt.Sprintf("%d keys / %d keys", len(a), len(b))
	}
	return ""
}

// Three nodes keep one replicated state: results written on any node
// (followers forward them to the leader) open one incident, with the same
// id and the same file on all three; a follower stopped while the log
// moves past a snapshot catches up from the leader's snapshot.
func TestThreeNodesKeepOneState(t *testing.T) {
	ms := threeNodes(t)
	for _, m := range ms {
		m.start(t, 8)
	}
	var leader *member
	eventually(t, "leader", func() bool {
		for _, m := range ms {
			if m.node.IsLeader() {
				leader = m
				return true
			}
		}
		return false
	})
	t0 := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	for i, m := range ms { // every node writes; followers forward
		if _, err := m.node.Apply(results(t0.Add(time.Duration(i)*time.Second), m.id, probes.Down)); err != nil {
			t.Fatalf("%s: %v", m.id, err)
		}
	}
	applied := func(m *member) uint64 { n, _ := m.st.AppliedIndex(); return n }
	same := func() bool {
		for _, m := range ms[1:] {
			if applied(m) != applied(ms[0]) || sameContents(contents(t, ms[0].st), contents(t, m.st)) != "" {
				return false
			}
		}
		return true
	}
	eventually(t, "one state on three nodes", same)
	incs, err := leader.st.Incidents(5, nil, nil)
	if err != nil || len(incs) != 1 {
		st, _ := leader.st.LoadState(t0, time.Hour)
		b, _ := json.Marshal(st.Checks)
		t.Fatalf("incidents %v (%v), want one; %s", incs, err, b)
	}

	// A follower stops; the log moves past two snapshots; it comes back.
	var away *member
	for _, m := range ms {
		if m != leader {
			away = m
			break
		}
	}
	snapIndex := func(m *member) string { return m.node.Stats()["last_snapshot_index"] }
	before := snapIndex(away)
	awayAt := applied(away)
	away.stop()
	for i := range 30 {
		// The leader writes every location's runs (a round of up decides).
		from := []string{"ams", "nyc", "sgp"}[i%3]
		if _, err := leader.node.Apply(results(t0.Add(time.Minute+time.Duration(i)*time.Second), from, probes.Up)); err != nil {
			t.Fatal(err)
		}
	}
	// Past it by more than the trailing logs (8) the leader keeps after a
	// snapshot: only then has the log lost what the follower needs (an
	// earlier snapshot alone lets it catch up from the log).
	eventually(t, "a snapshot on the leader past the stopped follower", func() bool {
		n, err := strconv.ParseUint(snapIndex(leader), 10, 64)
		return err == nil && n > awayAt+8
	})
	// raft records the snapshot before it compacts the log: wait for the
	// compaction too, or the follower may still be sent the entries (a CI
	// run caught that window).
	eventually(t, "the leader's log compacted past the stopped follower", func() bool {
		first, err := leader.node.logs.FirstIndex()
		return err == nil && first > awayAt+1
	})
	away.start(t, 8)
	eventually(t, "the returning follower caught up", same)
	// Raft records the installed snapshot after the FSM's restore wrote
	// the file: the file may match a moment before Stats says so (a CI run
	// at load 12 caught it), so this waits too.
	eventually(t, "the returning follower recording the leader's snapshot (its own was at "+before+")", func() bool {
		return snapIndex(away) != before
	})
	if diff := sameContents(contents(t, leader.st), contents(t, away.st)); diff != "" {
		t.Fatal(diff)
	}
	incs, _ = away.st.Incidents(5, nil, nil)
	if len(incs) != 1 || incs[0].Open() {
		t.Fatalf("the returning follower's incidents: %+v", incs)
	}
}

// Raft reads back entries it has just written: the leader the one before
// each run it sends, a follower each one it applies. From memory, not the
// log file: each read there was a read transaction and a decode of the
// whole entry. Reads that do not grow with the writes are kept out of the
// count: raft's snapshot runner reads the log's last index from the file
// every SnapshotInterval (the members' 100 ms, for the compaction tests),
// so the count grew with how long the writes took (it failed once under
// load: 20 writes paced 100 ms apart read the file 14 times on every
// member), and a member asked for its vote reads its last vote.
func TestRecentEntriesAreReadFromMemory(t *testing.T) {
	ms, leader := startThree(t)
	for _, m := range ms {
		rc := m.node.r.ReloadableConfig()
		rc.SnapshotInterval = time.Hour
		if err := m.node.r.ReloadConfig(rc); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	write := func(n int) {
		t.Helper()
		for range n {
			at = at.Add(time.Second)
			if _, err := leader.node.Apply(results(at, leader.id, probes.Up)); err != nil {
				t.Fatal(err)
			}
		}
		applied, _ := leader.st.AppliedIndex()
		eventually(t, "every member applying the writes", func() bool {
			for _, m := range ms {
				if i, _ := m.st.AppliedIndex(); i < applied {
					return false
				}
			}
			return true
		})
	}
	type count struct{ reads, term int }
	counts := func() map[string]count {
		out := map[string]count{}
		for _, m := range ms {
			term, _ := strconv.Atoi(m.node.Stats()["term"])
			out[m.id] = count{m.node.logs.Stats().TxN, term}
		}
		return out
	}
	write(1) // the election's votes and the first catch-up are behind
	before := counts()
	const writes = 20
	write(writes)
	for id, c := range counts() {
		d, elections := c.reads-before[id].reads, c.term-before[id].term
		// One snapshot check armed before the reload may still come; an
		// election makes a member read its last vote (two keys) for each
		// of at most two candidates.
		limit := writes/4 + 1 + 4*elections
		t.Logf("%s: %d reads of its raft log file, %d elections", id, d, elections)
		if d > limit {
			t.Errorf("%s read its raft log file %d times for %d writes (%d elections), want at most %d", id, d, writes, elections, limit)
		}
	}
}

// A barrier (the leader telling a commit at once) is applied by raft's
// FSM goroutine, which moves raft's applied index and so the next
// snapshot's, but never reaches the FSM: the data file's applied index
// stays behind the snapshot by entries it has nothing to do with. The
// next start keeps the file (it holds what the snapshot holds) rather
// than restoring the whole file from the snapshot and replaying the log
// (seconds per GiB, the page showing older state meanwhile).
func TestSnapshotPastABarrierKeepsTheFile(t *testing.T) {
	leader, followers := slowCommitTimeout(t)
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	if _, err := followers[0].node.Apply(store.Entry{At: now, Settings: []store.Setting{{Key: "k", Value: "v"}}}); err != nil {
		t.Fatal(err)
	}
	file, _ := leader.st.AppliedIndex()
	eventually(t, "the leader applying the barrier", func() bool {
		a, _ := strconv.ParseUint(leader.node.r.Stats()["applied_index"], 10, 64)
		return a > file
	})
	f := leader.node.r.Snapshot()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	meta, rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if got, _ := leader.st.AppliedIndex(); got >= meta.Index {
		t.Fatalf("snapshot at index %d, the data file applied to %d: no barrier past the file, nothing to test", meta.Index, got)
	}
	path := leader.cfg.Storage.Path
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	leader.stop()
	leader.start(t, 0)
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Errorf("the restart replaced the data file with raft's snapshot at %d (the file, at %d, held all it holds)", meta.Index, file)
	}
	if v, err := leader.st.Setting("k"); v != "v" {
		t.Errorf("after the restart the member reads %q (%v), want v", v, err)
	}
	if _, err := followers[0].node.Apply(store.Entry{At: now, Settings: []store.Setting{{Key: "k2", Value: "w"}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the restarted member applying a new write", func() bool {
		v, _ := leader.st.Setting("k2")
		return v == "w"
	})
}
