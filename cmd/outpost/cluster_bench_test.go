package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// benchCheck is the check of the cluster benchmarks, the same on one
// node: the LAN profile (raft's defaults) and the single node's
// thresholds, which a cluster replaces by its confirmation round.
const benchCheck = `  - {name: shop-home, component: shop, kind: http, target: "http://%s/", interval: 5s, timeout: 2s,
     failure_threshold: 3, success_threshold: 1, recheck_interval: 2s}
`

// benchCluster is three `outpost serve -node` processes on loopback,
// each its own location, voting by majority.
type benchCluster struct {
	cfg   string
	addrs []string // per node: raft, listen, ops
	dir   string
	ids   []string
	nodes []*clusterProc
}

// startBenchCluster writes certificates and the config (extra: more
// top-level keys) and starts the three, waiting until all answer /healthz,
// one leads, and the shop is operational.
func startBenchCluster(b *testing.B, targetAddr, extra string) *benchCluster {
	b.Helper()
	c := &benchCluster{dir: b.TempDir(), ids: []string{"ams", "nyc", "sgp"}, addrs: closedAddrs(b, 9)}
	certs := filepath.Join(c.dir, "cluster")
	if code, _, errs := runBinary(b, nil, "cluster", "certs", "-out", certs, "-nodes", "ams,nyc,sgp"); code != exitOK {
		b.Fatalf("certs: %s", errs)
	}
	c.cfg = filepath.Join(c.dir, "config.yaml")
	body := fmt.Sprintf(`
site: {title: Cluster, url: "https://status.example.com"}
listen: "${LISTEN}"
operators: {listen: "${OPS}"}
storage: {path: "${DATA}/outpost.db"}
components: [{id: shop, name: Shop}]
checks:
`+benchCheck+`voting: {vote: majority}
cluster:
  nodes:
    - {id: ams, address: %q, location: eu-west}
    - {id: nyc, address: %q, location: us-east}
    - {id: sgp, address: %q, location: ap-southeast}
  tls: {ca_file: %q, cert_file: "%s/${OUTPOST_NODE}.pem", key_file: "%s/${OUTPOST_NODE}-key.pem"}
%s`, targetAddr, c.addrs[0], c.addrs[1], c.addrs[2], filepath.Join(certs, "ca.pem"), certs, certs, extra)
	if err := os.WriteFile(c.cfg, []byte(body), 0o600); err != nil {
		b.Fatal(err)
	}
	c.nodes = make([]*clusterProc, 3)
	for i := range c.ids {
		c.start(b, i)
	}
	c.waitWhole(b, "all three up, one leader, the shop operational")
	return c
}

// start (re)starts member i on its own addresses and data folder.
func (c *benchCluster) start(b *testing.B, i int) {
	c.nodes[i] = startClusterNode(b, c.cfg, c.ids[i], c.addrs[3+i], c.addrs[6+i], filepath.Join(c.dir, c.ids[i]))
}

// waitWhole waits until every member answers /healthz 200, one leads,
// and every member serves the shop operational.
func (c *benchCluster) waitWhole(b *testing.B, what string) {
	b.Helper()
	until(b, time.Now().Add(60*time.Second), c.nodes, what, func() bool {
		for _, p := range c.nodes {
			if code, _ := p.get("/healthz"); code != http.StatusOK {
				return false
			}
			if _, body := p.get("/api/v1/status"); !strings.Contains(body, `"operational"`) {
				return false
			}
		}
		return leaderOf(c.nodes) != nil
	})
}

// loadAverage is the 1-minute load average, for the record next to each
// figure (the machine's cores are shared).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// waitBenchCond polls ok every 10 ms until the deadline.
func waitBenchCond(b *testing.B, d time.Duration, what string, ok func() bool) {
	b.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			b.Fatalf("no %s within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reportDistribution logs and reports min, median and max of times
// under the given prefix.
func reportDistribution(b *testing.B, prefix string, times []time.Duration) {
	b.Helper()
	s := slices.Clone(times)
	slices.Sort(s)
	var parts []string
	for _, d := range times {
		parts = append(parts, fmt.Sprintf("%.2f", d.Seconds()))
	}
	b.Logf("%s: raw (in order) %s s; min %.2f median %.2f max %.2f s", prefix, strings.Join(parts, " "),
		s[0].Seconds(), s[len(s)/2].Seconds(), s[len(s)-1].Seconds())
	b.ReportMetric(s[len(s)/2].Seconds(), prefix+"-median-s")
	b.ReportMetric(s[0].Seconds(), prefix+"-min-s")
	b.ReportMetric(s[len(s)-1].Seconds(), prefix+"-max-s")
}

// firstWordSide is one side of the first-word comparison: a target the
// benchmark takes down, the fake Mastodon the side posts to, and a node
// whose public API says when the incident is resolved.
type firstWordSide struct {
	tg   *target
	nets *fakeNetworks
	base string
}

// outage takes the target down at a random phase against the schedule
// and returns the time to the first post; it then brings the target back
// and waits until the incident is resolved and its reply posted.
func (s *firstWordSide) outage(b *testing.B) time.Duration {
	b.Helper()
	time.Sleep(rand.N(5 * time.Second)) // a uniform phase over one interval
	drainArrivals(s.nets)
	down := time.Now()
	s.tg.stop()
	var took time.Duration
	select {
	case <-s.nets.arrived:
		took = time.Since(down)
	case <-time.After(60 * time.Second):
		b.Fatalf("no post within 60 s of the outage at %s", s.base)
	}
	s.tg.start(b)
	replied := false
	waitBenchCond(b, 60*time.Second, "resolution posted", func() bool {
		select {
		case <-s.nets.arrived:
			replied = true
		default:
		}
		_, body := getURL(s.base + "/api/v2/incidents/unresolved.json")
		return replied && strings.Contains(body, `"incidents":[]`)
	})
	return took
}

func drainArrivals(f *fakeNetworks) {
	for {
		select {
		case <-f.arrived:
		default:
			return
		}
	}
}

// BenchmarkFirstWordThreeLocations: time from the target going down to
// the first post at a fake Mastodon, for three locations voting by
// majority and, interleaved in the same run, for one node with the same
// check (interval 5 s, failure_threshold 3, recheck_interval 2 s). Nine
// outages each at random phases; about 3 min:
//
//	go test ./cmd/outpost -run '^$' -bench FirstWordThreeLocations -benchtime 1x -v
func BenchmarkFirstWordThreeLocations(b *testing.B) {
	for range b.N {
		cluster := &firstWordSide{tg: &target{addr: "127.0.0.1:0"}, nets: newFakeNetworks(b)}
		cluster.tg.start(b)
		defer cluster.tg.stop()
		channel := fmt.Sprintf("channels:\n  - {name: mastodon, kind: mastodon, server: %q, token: t0ken}\n", cluster.nets.srv.URL)
		c := startBenchCluster(b, cluster.tg.addr, channel)
		cluster.base = c.nodes[0].base

		one := &firstWordSide{tg: &target{addr: "127.0.0.1:0"}, nets: newFakeNetworks(b)}
		one.tg.start(b)
		defer one.tg.stop()
		addrs := closedAddrs(b, 2)
		cfg := filepath.Join(b.TempDir(), "config.yaml")
		single := fmt.Sprintf("site: {title: One}\nlisten: %s\noperators: {listen: %q}\ncomponents: [{id: shop, name: Shop}]\nchecks:\n"+
			benchCheck+"channels:\n  - {name: mastodon, kind: mastodon, server: %q, token: t0ken}\n", addrs[0], addrs[1], one.tg.addr, one.nets.srv.URL)
		if err := os.WriteFile(cfg, []byte(single), 0o600); err != nil {
			b.Fatal(err)
		}
		one.base = startOutpostWith(b, outpostBinary(b), cfg, "http://"+addrs[0], defaultClient()).base
		waitBenchCond(b, 30*time.Second, "the single node's shop operational", func() bool {
			return strings.Contains(mustFetch(one.base, "/api/v1/status"), `"operational"`)
		})

		b.Logf("load average at start: %s", loadAverage())
		var three, single1 []time.Duration
		for i := range 9 {
			three = append(three, cluster.outage(b))
			single1 = append(single1, one.outage(b))
			b.Logf("outage %d: three locations %.2f s, one node %.2f s (load %s)", i, three[i].Seconds(), single1[i].Seconds(), loadAverage())
		}
		reportDistribution(b, "three", three)
		reportDistribution(b, "one", single1)
		b.Logf("load average at end: %s", loadAverage())
	}
}

// heldMastodon is a fake Mastodon whose answers can be held: each request
// is timed on arrival, and while hold is on it waits for release or for
// its sender to go away.
type heldMastodon struct {
	srv     *httptest.Server
	arrived chan time.Time
	mu      sync.Mutex
	release chan struct{} // nil: answer at once
}

func newHeldMastodon(b *testing.B) *heldMastodon {
	m := &heldMastodon{arrived: make(chan time.Time, 100)}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		m.arrived <- time.Now()
		m.mu.Lock()
		release := m.release
		m.mu.Unlock()
		if release != nil {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"id": fmt.Sprint(time.Now().UnixNano())})
	}))
	b.Cleanup(func() { m.hold(false); m.srv.Close() })
	return m
}

// hold starts or stops holding answers (stopping releases those held).
func (m *heldMastodon) hold(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.release != nil {
		close(m.release)
		m.release = nil
	}
	if on {
		m.release = make(chan struct{})
	}
}

// BenchmarkClusterFailover: the leader of three is SIGKILLed while its
// announcement of a just-confirmed outage is in flight (the fake Mastodon
// holds its answer): the time to a new leader, and to the announcement's
// arrival from the new leader. Five trials, the killed member restarted
// between them, with raft's timing for one LAN (the defaults) and for
// members on different continents (docs/config.md; on loopback, so it
// shows the timeouts' share alone); about 2 min:
//
//	go test ./cmd/outpost -run '^$' -bench ClusterFailover -benchtime 1x -v
func BenchmarkClusterFailover(b *testing.B) {
	for _, profile := range []struct{ name, timing string }{
		{"lan", ""},
		{"continents", "  heartbeat_timeout: 5s\n  election_timeout: 5s\n  leader_lease_timeout: 2500ms\n  commit_timeout: 250ms\n"},
	} {
		b.Run(profile.name, func(b *testing.B) {
			for range b.N {
				failovers(b, profile.timing)
			}
		})
	}
}

// failovers runs the five trials on a cluster with the given raft timing
// (keys of the cluster section).
func failovers(b *testing.B, timing string) {
	m := newHeldMastodon(b)
	tg := &target{addr: "127.0.0.1:0"}
	tg.start(b)
	defer tg.stop()
	// The timing keys continue the cluster section, which the config ends with.
	c := startBenchCluster(b, tg.addr, timing+fmt.Sprintf("channels:\n  - {name: mastodon, kind: mastodon, server: %q, token: t0ken}\n", m.srv.URL))
	b.Logf("load average at start: %s", loadAverage())
	var toLeader, toPost []time.Duration
	for i := range 5 {
		l, p := c.failover(b, m, tg)
		toLeader, toPost = append(toLeader, l), append(toPost, p)
		b.Logf("trial %d: new leader %.2f s, its announcement %.2f s (load %s)", i, l.Seconds(), p.Seconds(), loadAverage())
	}
	reportDistribution(b, "leader", toLeader)
	reportDistribution(b, "announcement", toPost)
	b.Logf("load average at end: %s", loadAverage())
}

// failover is one trial: outage, the leader's post held, SIGKILL, a new
// leader, its post; then recovery and the killed member back.
func (c *benchCluster) failover(b *testing.B, m *heldMastodon, tg *target) (toLeader, toPost time.Duration) {
	b.Helper()
	leader := leaderOf(c.nodes)
	m.hold(true)
	for len(m.arrived) > 0 {
		<-m.arrived
	}
	tg.stop()
	select {
	case <-m.arrived: // the leader's post of the incident, held
	case <-time.After(60 * time.Second):
		b.Fatal("no post of the outage within 60 s")
	}
	m.hold(false) // the next one is answered
	killed := slices.Index(c.nodes, leader)
	killedAt := time.Now()
	_ = leader.cmd.Process.Signal(syscall.SIGKILL)
	_ = leader.cmd.Wait()
	rest := slices.Delete(slices.Clone(c.nodes), killed, killed+1)
	until(b, time.Now().Add(30*time.Second), rest, "a new leader", func() bool { return leaderOf(rest) != nil })
	toLeader = time.Since(killedAt)
	select {
	case at := <-m.arrived:
		toPost = at.Sub(killedAt)
	case <-time.After(60 * time.Second):
		b.Fatal("no post from the new leader within 60 s")
	}
	tg.start(b)
	c.start(b, killed)
	c.waitWhole(b, "recovered, the killed member back")
	return toLeader, toPost
}
