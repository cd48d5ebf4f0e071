package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/machine"
	"github.com/outpost-status/outpost/status/store"
)

// leaderOf waits for one of ms to lead and returns it.
func leaderOf(t *testing.T, ms []*member) *member {
	t.Helper()
	var leader *member
	eventually(t, "leader", func() bool {
		for _, m := range ms {
			if m.node != nil && m.node.IsLeader() {
				leader = m
				return true
			}
		}
		return false
	})
	return leader
}

// voters is raft's configuration as m's raft has it, by id.
func voters(t *testing.T, m *member) []string {
	t.Helper()
	f := m.node.r.GetConfiguration()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			ids = append(ids, string(s.ID))
		}
	}
	slices.Sort(ids)
	return ids
}

// sameFiles waits until every member of ms applied to the same index and
// holds the same replicated file.
func sameFiles(t *testing.T, what string, ms []*member) {
	t.Helper()
	var last string
	deadline := time.Now().Add(20 * time.Second)
	for {
		last = ""
		a0, _ := ms[0].st.AppliedIndex()
		for _, m := range ms[1:] {
			a, _ := m.st.AppliedIndex()
			if a != a0 {
				last = fmt.Sprintf("%s applied %d, %s %d", ms[0].id, a0, m.id, a)
			} else if d := sameContents(contents(t, ms[0].st), contents(t, m.st)); d != "" {
				last = fmt.Sprintf("%s / %s: %s", ms[0].id, m.id, d)
			}
		}
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 20 s: %s", what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cluster.nodes is authoritative: a reload that adds a fourth member makes
// the leader add it (the new member, finding a running cluster, does not
// bootstrap and catches up), a member whose list differs from raft's says
// so, and a reload that removes one makes the leader remove it; the
// removed member learns it is out and writes nothing more.
func TestMembershipFollowsClusterNodes(t *testing.T) {
	ms := nodesOf(t, "ams", "nyc", "sgp", "lon")
	// lon probes from ams's location: the members' models (their
	// locations among them) stay the same through the change. (No model
	// entry guards these in-process members as status/node's leader
	// writes one: members with other locations would vote differently.)
	for _, m := range ms {
		m.cfg.Cluster.Nodes[3].Location = m.cfg.Cluster.Nodes[0].Location
	}
	four := slices.Clone(ms[0].cfg.Cluster.Nodes)
	three := four[:3]
	for _, m := range ms[:3] {
		m.cfg.Cluster.Nodes = slices.Clone(three)
		m.start(t, 0)
	}
	leader := leaderOf(t, ms[:3])
	t0 := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	if _, err := leader.node.Apply(results(t0, leader.id, probes.Down)); err != nil {
		t.Fatal(err)
	}

	// One follower reloads first: it reports the difference, nothing moves.
	var follower *member
	for _, m := range ms[:3] {
		if m != leader {
			follower = m
			break
		}
	}
	follower.node.SetNodes(four)
	eventually(t, "the follower reporting lon missing from raft's configuration", func() bool {
		return strings.Contains(follower.node.Mismatch(), "lon")
	})
	st := leader.node.Status(3 * time.Second)
	if i := slices.IndexFunc(st.Nodes, func(v View) bool { return v.Node == follower.id }); i < 0 || !strings.Contains(st.Nodes[i].Mismatch, "lon") {
		t.Fatalf("cluster status does not show the follower's mismatch: %+v", st.Nodes)
	}
	if got := voters(t, leader); len(got) != 3 {
		t.Fatalf("voters %v before the leader's reload", got)
	}

	// Every member reloads; the fourth starts: the leader adds it.
	for _, m := range ms[:3] {
		m.node.SetNodes(four)
	}
	ms[3].start(t, 0)
	eventually(t, "lon a voter", func() bool { return len(voters(t, leader)) == 4 })
	sameFiles(t, "lon caught up", ms)
	for _, m := range ms {
		eventually(t, m.id+" reporting no mismatch", func() bool { return m.node.Mismatch() == "" })
	}

	// sgp is removed from everyone else's list.
	gone := ms[2]
	if gone == leader {
		gone = ms[1]
	}
	var rest []config.ClusterNode
	var stay []*member
	for i, nd := range four {
		if nd.ID != gone.id {
			rest = append(rest, nd)
			stay = append(stay, ms[i])
		}
	}
	for _, m := range stay {
		m.node.SetNodes(rest)
	}
	eventually(t, gone.id+" removed from raft's configuration", func() bool {
		return !slices.Contains(voters(t, leaderOf(t, stay)), gone.id)
	})
	eventually(t, gone.id+" learning it was removed", gone.node.Removed)
	if _, err := gone.node.Apply(results(t0.Add(time.Minute), gone.id, probes.Up)); !errors.Is(err, ErrRemoved) {
		t.Fatalf("a removed member's write: %v, want ErrRemoved", err)
	}
	if v := gone.node.view(); !v.Removed || v.State == "Leader" {
		t.Fatalf("the removed member's account: %+v", v)
	}
	if _, err := leaderOf(t, stay).node.Apply(results(t0.Add(time.Minute), leader.id, probes.Up)); err != nil {
		t.Fatal(err)
	}
	sameFiles(t, "the three left in step", stay)
}

// nextChange adds before it removes, and removes the leader itself last.
func TestNextMembershipChange(t *testing.T) {
	nd := func(id string) config.ClusterNode { return config.ClusterNode{ID: id, Address: id + ":1"} }
	sv := func(id string) raft.Server {
		return raft.Server{ID: raft.ServerID(id), Address: raft.ServerAddress(id + ":1"), Suffrage: raft.Voter}
	}
	for _, tc := range []struct {
		name string
		want []config.ClusterNode
		have []raft.Server
		next change
		none bool
	}{
		{name: "same", want: []config.ClusterNode{nd("a"), nd("b")}, have: []raft.Server{sv("a"), sv("b")}, none: true},
		{name: "add first", want: []config.ClusterNode{nd("a"), nd("c")}, have: []raft.Server{sv("a"), sv("b")}, next: change{add: true, id: "c", address: "c:1"}},
		{name: "remove", want: []config.ClusterNode{nd("a")}, have: []raft.Server{sv("a"), sv("b")}, next: change{id: "b", address: "b:1"}},
		{name: "self last", want: []config.ClusterNode{nd("c")}, have: []raft.Server{sv("a"), sv("b"), sv("c")}, next: change{id: "b", address: "b:1"}},
		{name: "self", want: []config.ClusterNode{nd("b")}, have: []raft.Server{sv("a"), sv("b")}, next: change{id: "a", address: "a:1"}},
		{name: "moved", want: []config.ClusterNode{{ID: "b", Address: "b:2"}}, have: []raft.Server{sv("b")}, next: change{add: true, id: "b", address: "b:2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := nextChange(tc.want, tc.have, "a")
			if ok == tc.none || got != tc.next {
				t.Fatalf("nextChange = %+v, %v; want %+v, %v", got, ok, tc.next, !tc.none)
			}
		})
	}
}

// A single Outpost's data file, seeded, becomes the first member's state:
// the two others join, install it by snapshot, and every member shows the
// same incidents, whose ids go on without reuse.
func TestSeedKeepsSingleNodeHistory(t *testing.T) {
	ms := threeNodes(t)
	first := ms[0]
	t0 := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	st, err := store.Open(first.cfg.Storage.Path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	single := first.cfg.Model()
	single.Locations = nil // a single node's model: no vote, as before the cluster
	mach, err := machine.New(machine.Options{Store: st, Model: single})
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range []probes.Outcome{probes.Down, probes.Down, probes.Up} { // one incident, opened and resolved
		if _, err := mach.Apply(results(t0.Add(time.Duration(i)*time.Minute), "", o)); err != nil {
			t.Fatal(err)
		}
	}
	before, err := st.Incidents(5, nil, nil)
	if err != nil || len(before) != 1 || before[0].Open() {
		t.Fatalf("the single node's history: %+v (%v)", before, err)
	}
	if _, err := Seed(first.cfg, st, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if _, err := Seed(first.cfg, st, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a second seed of the same member was not refused")
	}
	st.Close()

	for _, m := range ms { // the seeded member first, as docs/operations.md says
		m.start(t, 0)
	}
	leader := leaderOf(t, ms)
	for _, m := range ms {
		eventually(t, m.id+" holding the single node's incident", func() bool {
			incs, err := m.st.Incidents(5, nil, nil)
			return err == nil && len(incs) == 1 && incs[0].ID == before[0].ID
		})
	}
	// A new outage after the seed: a new incident, a new id, everywhere.
	for i, id := range []string{"ams", "nyc", "sgp"} { // every location sees it: the vote says down
		if _, err := leader.node.Apply(results(t0.Add(time.Hour+time.Duration(i)*time.Second), id, probes.Down)); err != nil {
			t.Fatal(err)
		}
	}
	sameFiles(t, "one state after the seed", ms)
	for _, m := range ms {
		incs, err := m.st.Incidents(5, nil, nil)
		if err != nil || len(incs) != 2 || incs[0].ID == incs[1].ID || !slices.ContainsFunc(incs, func(i *status.Incident) bool { return i.ID == before[0].ID }) {
			t.Fatalf("%s's incidents after the seed: %+v (%v)", m.id, incs, err)
		}
	}
}

// The codec gate: a leader may write an entry of a codec version only
// once every member reports knowing it in its account; a member that
// reports an older one (an Outpost not yet upgraded) closes the gate, and
// its upgrade opens it. Results are never refused for it: they are
// stamped with the newest version every member reads (codec 2's series
// while one member reads only 2, codec 3's open roll-ups while one reads
// only 3, codec 4's binary results once the gate is open).
func TestCodecGateWaitsForEveryMember(t *testing.T) {
	ms, leader := startThree(t)
	// Every member asks at start: once the leader's gate is open it asks
	// no more, and the test says which member is old and shuts the gate.
	eventually(t, "the leader's codec gate", func() bool { return leader.node.codecOK.open() == store.CodecVersion })
	var old *member
	for _, m := range ms {
		if m != leader {
			old = m
			break
		}
	}
	old.node.codec.Store(store.MinCodecVersion)
	leader.node.codecOK.shut()
	err := leader.node.CodecReady(store.CodecVersion, 3*time.Second)
	if !errors.Is(err, ErrCodecNotReady) || !strings.Contains(err.Error(), old.id) {
		t.Fatalf("gate with %s on codec %d: %v, want ErrCodecNotReady naming it", old.id, old.node.codec.Load(), err)
	}
	stamp := func(e store.Entry) int {
		t.Helper()
		data, err := leader.node.encode(e)
		if err != nil {
			t.Fatalf("encode %s: %v", e.Parts(), err)
		}
		return int(data[0])
	}
	if v := stamp(results(time.Now(), leader.id, probes.Up)); v != store.MinCodecVersion {
		t.Errorf("results while %s is behind stamped %d, want %d", old.id, v, store.MinCodecVersion)
	}
	// The old member is upgraded to the open roll-ups' codec, not the
	// compact state's: the gate for the newest stays shut, but results
	// are stamped with the open roll-ups' and every member writes the
	// check's state as JSON, as the old one does.
	old.node.codec.Store(store.OpenRollupCodec)
	if err := leader.node.CodecReady(store.CodecVersion, 3*time.Second); !errors.Is(err, ErrCodecNotReady) {
		t.Fatalf("gate with %s on codec %d: %v, want ErrCodecNotReady", old.id, old.node.codec.Load(), err)
	}
	t0 := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	writeState := func(at time.Time, wantStamp int, wantLead byte) {
		t.Helper()
		e := results(at, leader.id, probes.Down)
		if v := stamp(e); v != wantStamp {
			t.Errorf("results stamped %d, want %d", v, wantStamp)
		}
		if _, err := leader.node.Apply(e); err != nil {
			t.Fatal(err)
		}
		sameFiles(t, fmt.Sprintf("one file after results stamped %d", wantStamp), ms)
		if v := contents(t, leader.st)["checks/api-1"]; len(v) == 0 || v[0] != wantLead {
			t.Errorf("results stamped %d wrote the state %q, want it to begin with %q", wantStamp, v, wantLead)
		}
	}
	writeState(t0, store.OpenRollupCodec, '{')
	old.node.codec.Store(store.CodecVersion) // upgraded
	if err := leader.node.CodecReady(store.CodecVersion, 3*time.Second); err != nil {
		t.Fatalf("gate once every member is upgraded: %v", err)
	}
	writeState(t0.Add(time.Second), store.CompactStateCodec, 0x01)
	if err := leader.node.CodecReady(store.CodecVersion+1, 3*time.Second); !errors.Is(err, ErrCodecNotReady) {
		t.Fatalf("gate for a codec no member knows: %v", err)
	}
	// Entries are stamped with what they need, not the newest codec;
	// results with the newest every member reads.
	if v := stamp(store.Entry{At: time.Now(), Settings: []store.Setting{{Key: "k", Value: "v"}}}); v != store.MinCodecVersion {
		t.Errorf("a setting stamped %d, want %d", v, store.MinCodecVersion)
	}
	if v := stamp(results(time.Now(), leader.id, probes.Up)); v != store.CodecVersion {
		t.Errorf("results once every member reads codec %d stamped %d", store.CodecVersion, v)
	}
	// A reload that keeps cluster.nodes keeps the gate open (it shut on
	// every reload, and results went back to codec 2 until the next ask);
	// one that changes them shuts it (one of the new list runs an older
	// Outpost, so the gate stays at its codec when keepCodec asks).
	leader.node.SetNodes(slices.Clone(leader.cfg.Cluster.Nodes))
	if v := stamp(results(time.Now(), leader.id, probes.Up)); v != store.CodecVersion {
		t.Errorf("results after a reload with the same nodes stamped %d, want %d", v, store.CodecVersion)
	}
	ms[1].node.codec.Store(store.MinCodecVersion)
	leader.node.SetNodes(leader.cfg.Cluster.Nodes[:2])
	if v := stamp(results(time.Now(), leader.id, probes.Up)); v != store.MinCodecVersion {
		t.Errorf("results after cluster.nodes changed stamped %d, want %d until every member is asked", v, store.MinCodecVersion)
	}
}

// A follower's codec gate can be open where the leader's is not (a reload
// that added a member on an older Outpost reached the leader first, or a
// leader just elected): the leader appends a forwarded entry in the codec
// its own gate allows, so the older member never meets one it cannot read.
func TestLeaderAppendsInTheCodecItsGateAllows(t *testing.T) {
	ms, leader := startThree(t)
	// The leader's gate, once open, is asked no more: the test shuts it
	// to where an older member keeps it.
	eventually(t, "the leader's codec gate", func() bool { return leader.node.codecOK.open() == store.CodecVersion })
	for _, m := range ms {
		if m != leader {
			m.node.codec.Store(store.OpenRollupCodec) // one older member keeps the gate at 3 if it is asked
			break
		}
	}
	leader.node.codecOK.shut()
	gen, _ := leader.node.codecOK.load()
	leader.node.codecOK.raise(gen, store.OpenRollupCodec)
	for _, v := range []int{store.OpenRollupCodec, store.CodecVersion} {
		data, err := store.EncodeEntryAt(results(time.Now(), leader.id, probes.Up), v)
		if err != nil {
			t.Fatal(err)
		}
		a := leader.node.answerForward(data)
		if a.Error != "" || a.Index == 0 {
			t.Fatalf("forwarded codec-%d entry: %+v", v, a)
		}
		var l raft.Log
		if err := leader.node.logs.GetLog(a.Index, &l); err != nil {
			t.Fatal(err)
		}
		if l.Data[0] != store.OpenRollupCodec {
			t.Errorf("a forwarded codec-%d entry was appended in codec %d, want %d (the leader's gate)", v, l.Data[0], store.OpenRollupCodec)
		}
	}
}
