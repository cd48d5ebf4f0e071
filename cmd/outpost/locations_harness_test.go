//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The locations harness: three real `outpost serve -node` processes, each
// in a network namespace of its own with two links, so that a test can
// break one location's network the way real networks break (issue 31).
//
//	                 hub namespace: bridge "br0" (the cluster link)
//	                  │ clu 10.205.N.10 │ clu .11        │ clu .12
//	       ┌──────────┴──┐   ┌──────────┴──┐   ┌─────────┴───┐
//	       │ ns ams      │   │ ns nyc      │   │ ns sgp      │  each: lo
//	       │ eu-west     │   │ us-east     │   │ ap-southeast│  (its page
//	       └──────────┬──┘   └──────────┬──┘   └─────────┬───┘  and ops)
//	                  │ inet 10.204.N.10│ inet .11       │ inet .12
//	                 root namespace: bridge "oplNi" (the internet)
//	                 10.204.N.1: canaries, fake Mastodon and Slack
//	                 10.204.N.2: the target (a separate address, so a
//	                 route to it alone can be blocked)
//
// Every packet stays on links the test creates: the nodes reach nothing
// but the two bridges, and the test reads each node's listeners on the
// node's own loopback by dialing from inside its namespace.

// locNames are the three nodes and their locations, in cluster order.
var locNames = [3][2]string{{"ams", "eu-west"}, {"nyc", "us-east"}, {"sgp", "ap-southeast"}}

// locWorld is one harness: the namespaces, the internet's services and
// the three nodes.
type locWorld struct {
	t        *testing.T
	n        int // the third octet of both subnets
	dir, cfg string
	hub, br  string // the cluster's namespace; the internet's bridge in root
	nets     *fakeNetworks
	shop     *target
	canaries []string // two addresses on servicesIP
	nodes    []*locNode
}

// locNode is one location: its namespace, its process and a client that
// dials inside the namespace.
type locNode struct {
	id, location, ns string
	inetNet          string // the internet link's subnet, to put its route back
	client           *http.Client
	cmd              *exec.Cmd
	mu               sync.Mutex
	logs             strings.Builder
}

// locOptions shape a world: more top-level config (e.g. a voting
// section) and the shop check's thresholds.
type locOptions struct {
	extra            string
	failureThreshold int
}

// newLocWorld builds the namespaces and links, the internet's services,
// the config, and starts the three nodes. It skips when it cannot build
// namespaces, except under CI, where that fails.
func newLocWorld(t *testing.T, o locOptions) *locWorld {
	t.Helper()
	if testing.Short() {
		t.Skip("runs three real binaries in network namespaces")
	}
	if os.Geteuid() != 0 {
		skipOrFail(t, "network namespace tests need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skipOrFail(t, "network namespace tests need ip (iproute2)")
	}
	w := &locWorld{t: t, dir: t.TempDir()}
	w.links()
	w.services()
	w.writeConfig(o)
	w.voteBuilt(o)
	for _, nd := range w.nodes {
		w.start(nd)
	}
	return w
}

// ip runs ip with args, failing (or, before the first node exists,
// skipping outside CI) with its output.
func (w *locWorld) ip(args ...string) {
	w.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		w.t.Fatalf("ip %s: %v %s", strings.Join(args, " "), err, out)
	}
}

// links creates the hub and node namespaces, the two bridges and each
// node's two veth pairs. Cleanup deletes them all, after the processes
// (registered later, so stopped first) are gone.
func (w *locWorld) links() {
	t := w.t
	t.Cleanup(func() {
		for _, nd := range w.nodes {
			_ = exec.Command("ip", "netns", "del", nd.ns).Run()
		}
		if w.hub != "" {
			_ = exec.Command("ip", "netns", "del", w.hub).Run()
			_ = exec.Command("ip", "link", "del", w.br).Run()
		}
	})
	// The subnets' octet is drawn until the hub's name is free: another
	// run of these tests may hold one at the same time.
	for try := 0; ; try++ {
		w.n = rand.IntN(200) + 20
		w.hub, w.br = fmt.Sprintf("outpost-l%d-hub", w.n), fmt.Sprintf("opl%di", w.n)
		if try < 4 && !namesFree(w.n) { // a killed run's leftovers (a CI run met "File exists")
			continue
		}
		out, err := exec.Command("ip", "netns", "add", w.hub).CombinedOutput()
		if err == nil {
			break
		}
		if try == 4 || !strings.Contains(string(out), "exists") {
			w.hub = "" // not ours: cleanup must not delete it
			skipOrFail(t, fmt.Sprintf("cannot create a network namespace (ip netns add: %v %s)", err, out))
		}
	}
	w.ip("-n", w.hub, "link", "add", "name", "br0", "type", "bridge")
	w.ip("-n", w.hub, "link", "set", "dev", "br0", "up")
	w.ip("link", "add", "name", w.br, "type", "bridge")
	w.ip("addr", "add", fmt.Sprintf("10.204.%d.1/24", w.n), "dev", w.br)
	w.ip("addr", "add", fmt.Sprintf("10.204.%d.2/24", w.n), "dev", w.br)
	w.ip("link", "set", "dev", w.br, "up")
	for i, nm := range locNames {
		nd := &locNode{id: nm[0], location: nm[1], ns: fmt.Sprintf("outpost-l%d-%s", w.n, nm[0]),
			inetNet: fmt.Sprintf("10.204.%d.0/24", w.n)}
		w.nodes = append(w.nodes, nd)
		w.ip("netns", "add", nd.ns)
		w.ip("-n", nd.ns, "link", "set", "dev", "lo", "up")
		// internet: root end on the root bridge, "inet" inside
		root := fmt.Sprintf("opl%dr%d", w.n, i)
		w.ip("link", "add", "name", root, "type", "veth", "peer", "name", "inet", "netns", nd.ns)
		w.ip("link", "set", "dev", root, "master", w.br, "up")
		w.ip("-n", nd.ns, "addr", "add", fmt.Sprintf("10.204.%d.%d/24", w.n, 10+i), "dev", "inet")
		w.ip("-n", nd.ns, "link", "set", "dev", "inet", "up")
		// cluster: hub end on the hub's bridge, "clu" inside
		w.ip("-n", nd.ns, "link", "add", "name", "clu", "type", "veth", "peer", "name", "p"+nm[0], "netns", w.hub)
		w.ip("-n", w.hub, "link", "set", "dev", "p"+nm[0], "master", "br0", "up")
		w.ip("-n", nd.ns, "addr", "add", w.clusterIP(i)+"/24", "dev", "clu")
		w.ip("-n", nd.ns, "link", "set", "dev", "clu", "up")
		nd.client = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DialContext: dialIn(nd.ns), DisableKeepAlives: true}}
	}
}

// namesFree reports whether none of the links and namespaces a world
// with octet n makes exists already.
func namesFree(n int) bool {
	for _, l := range []string{fmt.Sprintf("opl%di", n), fmt.Sprintf("opl%dr0", n), fmt.Sprintf("opl%dr1", n), fmt.Sprintf("opl%dr2", n)} {
		if exec.Command("ip", "link", "show", "dev", l).Run() == nil {
			return false
		}
	}
	out, _ := exec.Command("ip", "netns", "list").Output()
	return !strings.Contains(string(out), fmt.Sprintf("outpost-l%d-", n))
}

func (w *locWorld) clusterIP(i int) string { return fmt.Sprintf("10.205.%d.%d", w.n, 10+i) }

// servicesIP and targetIP are the internet's two addresses.
func (w *locWorld) servicesIP() string { return fmt.Sprintf("10.204.%d.1", w.n) }
func (w *locWorld) targetIP() string   { return fmt.Sprintf("10.204.%d.2", w.n) }

// services starts the target, two canaries and the fake channels on the
// internet side. The channels' arrivals are drained until after the fake
// server has closed (its Close waits for handlers, which send on it).
func (w *locWorld) services() {
	t := w.t
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	w.nets = newFakeNetworksOn(t, w.servicesIP()+":0")
	go func() {
		for {
			select {
			case <-w.nets.arrived:
			case <-done:
				return
			}
		}
	}()
	w.shop = &target{addr: w.targetIP() + ":0"}
	w.shop.start(t)
	t.Cleanup(w.shop.stop)
	for range 2 {
		c := &target{addr: w.servicesIP() + ":0"}
		c.start(t)
		t.Cleanup(c.stop)
		w.canaries = append(w.canaries, c.addr)
	}
}

// writeConfig writes the certificates and the one config every node
// runs: shop checked every second, two canaries, a public Mastodon and an
// operators' Slack, and the three nodes with their locations.
func (w *locWorld) writeConfig(o locOptions) {
	t := w.t
	certs := filepath.Join(w.dir, "cluster")
	if code, _, errs := runBinary(t, nil, "cluster", "certs", "-out", certs, "-nodes", "ams,nyc,sgp"); code != exitOK {
		t.Fatalf("certs: %s", errs)
	}
	if o.failureThreshold == 0 {
		o.failureThreshold = 2
	}
	probe := "interval: 1s, timeout: 500ms, success_threshold: 1, recheck_interval: 300ms"
	nodes := ""
	for i, nd := range w.nodes {
		nodes += fmt.Sprintf("    - {id: %s, address: \"%s:7946\", location: %s}\n", nd.id, w.clusterIP(i), nd.location)
	}
	w.cfg = filepath.Join(w.dir, "config.yaml")
	body := fmt.Sprintf(`
site: {title: Locations, url: "https://status.example.com"}
listen: "${LISTEN}"
operators: {listen: "${OPS}"}
storage: {path: "${DATA}/outpost.db"}
components: [{id: shop, name: Shop}]
checks:
  - {name: shop-home, component: shop, kind: http, target: "http://%[1]s/", failure_threshold: %[2]d, %[3]s}
canaries:
  - {name: canary-a, kind: http, target: "http://%[4]s/", failure_threshold: 2, %[3]s}
  - {name: canary-b, kind: tcp, target: "%[5]s", failure_threshold: 2, %[3]s}
channels:
  - {name: mastodon, kind: mastodon, server: "%[6]s", token: t0ken}
  - {name: ops, kind: slack, url: "%[6]s/slack"}
cluster:
  nodes:
%[7]s  tls: {ca_file: "%[8]s/ca.pem", cert_file: "%[8]s/${OUTPOST_NODE}.pem", key_file: "%[8]s/${OUTPOST_NODE}-key.pem"}
%[9]s`, w.shop.addr, o.failureThreshold, probe, w.canaries[0], w.canaries[1], w.nets.srv.URL, nodes, certs, o.extra)
	if err := os.WriteFile(w.cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// voteBuilt skips a test of the vote while the binary does not know the
// voting: section (issue 31, built beside these tests): its config is
// refused as an unknown field. Any other refusal fails the test.
func (w *locWorld) voteBuilt(o locOptions) {
	w.t.Helper()
	if !strings.Contains(o.extra, "voting:") {
		return
	}
	code, out, errs := runBinary(w.t, []string{"LISTEN=127.0.0.1:8080", "OPS=127.0.0.1:8081", "DATA=" + filepath.Join(w.dir, "ams")},
		"check", "-config", w.cfg, "-node", "ams")
	switch {
	case code == exitOK:
	case strings.Contains(errs, `unknown field "voting"`):
		w.t.Skip("vote not built yet: `outpost check` says " + strings.TrimSpace(errs))
	default:
		w.t.Fatalf("check refuses the config (%d): %s%s", code, out, errs)
	}
}

// start runs `outpost serve -node ID` inside the node's namespace, its
// listeners on the namespace's own loopback.
func (w *locWorld) start(nd *locNode) {
	t := w.t
	nd.cmd = exec.Command("ip", "netns", "exec", nd.ns, outpostBinary(t), "serve", "-config", w.cfg, "-node", nd.id)
	nd.cmd.Env = append(os.Environ(), "LISTEN=127.0.0.1:8080", "OPS=127.0.0.1:8081", "DATA="+filepath.Join(w.dir, nd.id))
	stderr, err := nd.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := nd.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			nd.mu.Lock()
			nd.logs.WriteString(sc.Text() + "\n")
			nd.mu.Unlock()
		}
	}()
	// ip netns exec execs the binary, so the process is Outpost itself.
	t.Cleanup(func() { _ = nd.cmd.Process.Kill(); _ = nd.cmd.Wait() })
}

// dialIn dials from inside the named namespace: a goroutine locks its
// thread, enters the namespace and dials there; the socket stays in the
// namespace. The thread is never unlocked, so Go ends it with the
// goroutine instead of reusing a thread in another namespace.
func dialIn(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type dialed struct {
			c   net.Conn
			err error
		}
		ch := make(chan dialed, 1)
		go func() {
			runtime.LockOSThread()
			f, err := os.Open("/var/run/netns/" + ns)
			if err != nil {
				ch <- dialed{nil, fmt.Errorf("open namespace %s: %w", ns, err)}
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				ch <- dialed{nil, fmt.Errorf("enter namespace %s: %w", ns, err)}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			ch <- dialed{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

// Faults, each inside one node's namespace.

// block makes the target unreachable from each node (a prohibit route:
// the probe's connect fails at once), unblock takes the route away.
func (w *locWorld) block(nds ...*locNode) {
	w.t.Helper()
	for _, nd := range nds {
		w.ip("-n", nd.ns, "route", "add", "prohibit", w.targetIP()+"/32")
		w.reaches(nd, w.shop.addr, false)
		w.reaches(nd, w.canaries[0], true)
	}
}

func (w *locWorld) unblock(nd *locNode) {
	w.t.Helper()
	w.ip("-n", nd.ns, "route", "del", "prohibit", w.targetIP()+"/32")
	w.reaches(nd, w.shop.addr, true)
}

// flushInternet removes nd's internet routes, as systemd-networkd did in
// June 2025, while its cluster link stays up; restoreInternet puts the
// route back.
func (w *locWorld) flushInternet(nd *locNode) {
	w.t.Helper()
	w.ip("-n", nd.ns, "route", "flush", "dev", "inet")
	w.reaches(nd, w.canaries[0], false)
	w.reaches(nd, w.peerOf(nd), true)
}

func (w *locWorld) restoreInternet(nd *locNode) {
	w.t.Helper()
	w.ip("-n", nd.ns, "route", "add", nd.inetNet, "dev", "inet")
	w.reaches(nd, w.canaries[0], true)
}

// cutBoth takes both of nd's links down; restoreBoth brings them up (their
// connected routes come back with them).
func (w *locWorld) cutBoth(nd *locNode) {
	w.t.Helper()
	w.ip("-n", nd.ns, "link", "set", "dev", "inet", "down")
	w.ip("-n", nd.ns, "link", "set", "dev", "clu", "down")
	w.reaches(nd, w.canaries[0], false)
	w.reaches(nd, w.peerOf(nd), false)
}

// isolate cuts nd's cluster link only: it still reaches the internet.
func (w *locWorld) isolate(nd *locNode) {
	w.t.Helper()
	w.ip("-n", nd.ns, "link", "set", "dev", "clu", "down")
	w.reaches(nd, w.peerOf(nd), false)
}

func (w *locWorld) rejoin(nd *locNode) {
	w.t.Helper()
	w.ip("-n", nd.ns, "link", "set", "dev", "clu", "up")
	w.reaches(nd, w.peerOf(nd), true)
}

func (w *locWorld) restoreBoth(nd *locNode) {
	w.t.Helper()
	w.ip("-n", nd.ns, "link", "set", "dev", "inet", "up")
	w.ip("-n", nd.ns, "link", "set", "dev", "clu", "up")
	w.reaches(nd, w.canaries[0], true)
	w.reaches(nd, w.peerOf(nd), true)
}

// reaches checks that a TCP connection from inside nd's namespace to
// addr works (or fails): a fault the harness made is one the node meets.
// A route removed fails at once; a link brought up may take a moment to
// carry, so success is awaited for up to 3 s.
func (w *locWorld) reaches(nd *locNode, addr string, want bool) {
	w.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(w.t.Context(), 500*time.Millisecond)
		c, err := dialIn(nd.ns)(ctx, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
		}
		switch {
		case (err == nil) == want:
			return
		case !want || time.Now().After(deadline):
			w.t.Fatalf("from %s, %s reachable: %v, want %v (%v)", nd.id, addr, err == nil, want, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// peerOf is another node's cluster address, which its raft listens on.
func (w *locWorld) peerOf(nd *locNode) string {
	for i, o := range w.nodes {
		if o != nd {
			return w.clusterIP(i) + ":7946"
		}
	}
	return ""
}

// Reading the nodes.

func (nd *locNode) log() string {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.logs.String()
}

// get reads path from the node's public listener (ops: its operators').
func (nd *locNode) get(path string) (int, string) { return nd.read("http://127.0.0.1:8080" + path) }
func (nd *locNode) ops(path string) (int, string) { return nd.read("http://127.0.0.1:8081" + path) }

func (nd *locNode) read(url string) (int, string) {
	r, err := nd.client.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	return r.StatusCode, string(b)
}

// state is the node's raft state and the leader it names.
func (nd *locNode) state() (state, leader string) {
	_, body := nd.ops("/api/v1/health")
	var h struct {
		Cluster struct{ Leader, State string }
	}
	_ = json.Unmarshal([]byte(body), &h)
	return h.Cluster.State, h.Cluster.Leader
}

// shop is the public component's status ("" when unreadable) and the
// number of incidents, from the Statuspage summary.
func (nd *locNode) shop() (status string, incidents int) {
	_, body := nd.get("/api/v2/summary.json")
	var s struct {
		Components []struct{ ID, Status string }
		Incidents  []json.RawMessage
	}
	if json.Unmarshal([]byte(body), &s) != nil {
		return "", -1
	}
	for _, c := range s.Components {
		if c.ID == "shop" {
			status = c.Status
		}
	}
	return status, len(s.Incidents)
}

// until polls ok every 100 ms until d has passed, then fails with every
// node's log.
func (w *locWorld) until(d time.Duration, what string, ok func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			w.dump()
			w.t.Fatalf("no %s within %v", what, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ready waits until every node serves /healthz, names the same leader and
// shows the shop operational with data.
func (w *locWorld) ready() {
	w.t.Helper()
	w.until(40*time.Second, "cluster of three with one leader, shop operational on every page", func() bool {
		leaders := map[string]bool{}
		for _, nd := range w.nodes {
			code, _ := nd.get("/healthz")
			_, leader := nd.state()
			status, _ := nd.shop()
			if code != http.StatusOK || leader == "" || status != "operational" {
				return false
			}
			leaders[leader] = true
		}
		return len(leaders) == 1
	})
}

// leader is the node that leads now (nil when none says so).
func (w *locWorld) leader() *locNode {
	for _, nd := range w.nodes {
		if state, _ := nd.state(); state == "Leader" {
			return nd
		}
	}
	return nil
}

// follower is a node that does not lead now.
func (w *locWorld) follower() *locNode {
	for _, nd := range w.nodes {
		if state, _ := nd.state(); state == "Follower" {
			return nd
		}
	}
	w.t.Fatal("no follower")
	return nil
}

// said is what the fake channels received: Mastodon posts created and
// every Slack text.
func (w *locWorld) said() (posts int, toots, slack []string) {
	p, got := w.nets.snapshot()
	return p["mastodon"], got["mastodon"], got["slack"]
}

// sameIncidents is the number of incidents every node shows in the same
// /api/v2/incidents.json bytes (-1 while the nodes differ).
func (w *locWorld) sameIncidents() int {
	var first string
	for i, nd := range w.nodes {
		code, body := nd.get("/api/v2/incidents.json")
		if code != http.StatusOK || (i > 0 && body != first) {
			return -1
		}
		first = body
	}
	return strings.Count(first, `"shortlink"`)
}

// drained waits until the leader's outbox holds nothing pending for the
// channel: every announcement made to it so far has had its answer, so
// counts taken now are final for them.
func (w *locWorld) drained(channel string) {
	w.t.Helper()
	w.until(20*time.Second, "the leader's outbox drained for "+channel, func() bool {
		ld := w.leader()
		if ld == nil {
			return false
		}
		_, body := ld.ops("/api/v1/health")
		var h struct {
			Outbox map[string]struct{ Pending int }
		}
		if json.Unmarshal([]byte(body), &h) != nil {
			return false
		}
		return h.Outbox[channel].Pending == 0
	})
}

// quietFor checks, every 200 ms for d, that nothing went wrong (wrong
// returns "" while all is well): a window over which something must NOT
// happen, its length a few probe rounds.
func (w *locWorld) quietFor(d time.Duration, wrong func() string) {
	w.t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if why := wrong(); why != "" {
			w.dump()
			w.t.Fatal(why)
		}
	}
}

// everyShop reports whether every node shows the shop with status.
func (w *locWorld) everyShop(status string) bool {
	for _, nd := range w.nodes {
		if st, _ := nd.shop(); st != status {
			return false
		}
	}
	return true
}

// toldOperators reports whether one operators' message holds every word.
func (w *locWorld) toldOperators(words ...string) bool {
	_, _, slack := w.said()
	for _, m := range slack {
		all := true
		for _, wd := range words {
			all = all && strings.Contains(strings.ToLower(m), strings.ToLower(wd))
		}
		if all {
			return true
		}
	}
	return false
}

// noIncident is "" while no node shows an incident and nothing was posted.
func (w *locWorld) noIncident() string {
	if posts, toots, _ := w.said(); posts != 0 {
		return fmt.Sprintf("the public was told: %q", toots)
	}
	for _, nd := range w.nodes {
		if _, n := nd.shop(); n > 0 {
			return fmt.Sprintf("%s shows %d incidents", nd.id, n)
		}
	}
	return ""
}

// others are the nodes other than nd.
func (w *locWorld) others(nd *locNode) []*locNode {
	var out []*locNode
	for _, o := range w.nodes {
		if o != nd {
			out = append(out, o)
		}
	}
	return out
}

// decides waits for one public incident, the same on every node that
// can hear the cluster, and checks that it was posted once.
func (w *locWorld) decides() {
	w.t.Helper()
	w.until(30*time.Second, "one incident and its post", func() bool {
		ld := w.leader()
		if ld == nil {
			return false
		}
		posts, _, _ := w.said()
		_, n := ld.shop()
		return posts >= 1 && n == 1
	})
	w.drained("mastodon")
	if posts, toots, _ := w.said(); posts != 1 || !strings.Contains(toots[0], "Shop") {
		w.t.Fatalf("want one post about Shop, got %d: %q", posts, toots)
	}
}

// dump logs every node's log and what the channels were told, for a
// failing test.
func (w *locWorld) dump() {
	for _, nd := range w.nodes {
		w.t.Logf("%s (%s):\n%s", nd.id, nd.location, nd.log())
	}
	_, toots, slack := w.said()
	w.t.Logf("mastodon: %q\noperators:\n%s", toots, strings.Join(slack, "\n"))
}
