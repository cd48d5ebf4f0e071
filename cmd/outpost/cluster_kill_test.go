package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// leaderOf is the member that says it leads ("" while none does).
func leaderOf(nodes []*clusterProc) *clusterProc {
	for _, p := range nodes {
		if p == nil {
			continue
		}
		if _, state := p.clusterView(); state == "Leader" {
			return p
		}
	}
	return nil
}

// The leader is killed while the networks hold their answers to the
// incident's first posts: a new leader takes over, sends each
// announcement again under the same key where the channel de-duplicates
// (and not at all where it cannot), so each network has exactly what a
// single node gives after a crash; the resolution is posted once, as a
// reply; and the killed member, restarted, catches up and posts nothing of
// its own.
func TestLeaderKilledMidPostPostsExactlyOnce(t *testing.T) {
	nets := newFakeNetworks(t)
	nets.hold = true
	dir := t.TempDir()
	tg := &target{addr: "127.0.0.1:0"}
	tg.start(t)
	defer tg.stop()
	cfg, addrs := clusterFilesWith(t, dir, tg.addr, 2, nets.channelsYAML())
	ids := []string{"ams", "nyc", "sgp"}
	nodes := make([]*clusterProc, 3)
	start := func(i int) {
		nodes[i] = startClusterNode(t, cfg, ids[i], addrs[3+i], addrs[6+i], filepath.Join(dir, ids[i]))
	}
	for i := range ids {
		start(i)
	}
	deadline := time.Now().Add(40 * time.Second)
	var leader *clusterProc
	until(t, deadline, nodes, "a leader, the shop up", func() bool {
		leader = leaderOf(nodes)
		return leader != nil && strings.Contains(mustFetch(leader.base, "/api/v1/status"), `"operational"`)
	})
	tg.stop() // incident.created goes to every channel; the answers are held
	nets.waitArrivals(t, 20*time.Second, "mastodon", "slack", "discord", "pagerduty", "x", "bluesky")
	killed := 0
	for i, p := range nodes {
		if p == leader {
			killed = i
		}
	}
	_ = leader.cmd.Process.Signal(syscall.SIGKILL)
	_ = leader.cmd.Wait()
	nodes[killed] = nil
	nets.unhold()
	rest := []*clusterProc{}
	for _, p := range nodes {
		if p != nil {
			rest = append(rest, p)
		}
	}
	deadline = time.Now().Add(40 * time.Second)
	var next *clusterProc
	until(t, deadline, rest, "a new leader with its outbox drained", func() bool {
		next = leaderOf(rest)
		return next != nil && strings.Contains(mustFetch(next.ops, "/api/v1/health"), `"outbox":{}`)
	})
	want := map[string]int{"mastodon": 1, "pagerduty": 1, "x": 1, "bluesky": 1, "slack": 2, "discord": 2}
	check := func(when string) {
		t.Helper()
		posts, got := nets.snapshot()
		for ch, n := range want {
			if posts[ch] != n {
				t.Errorf("%s: %s: %d posts, want %d (requests: %q)", when, ch, posts[ch], n, got[ch])
			}
		}
	}
	check("after the failover")

	// The shop recovers: the resolution goes once, as a reply.
	tg.start(t)
	until(t, deadline, rest, "the resolution posted", func() bool {
		posts, _ := nets.snapshot()
		return posts["mastodon"] == 2 && strings.Contains(mustFetch(next.ops, "/api/v1/health"), `"outbox":{}`)
	})
	resolved, got := nets.snapshot()
	if replies := got["mastodon replies"]; len(replies) == 0 || replies[len(replies)-1] != "1001" {
		t.Errorf("the resolution does not answer the incident's post 1001: replies to %q", replies)
	}
	for ch, n := range resolved {
		want[ch] = n // from here on, nothing more
	}

	// The killed member comes back, catches up, and posts nothing.
	start(killed)
	back := nodes[killed]
	until(t, time.Now().Add(40*time.Second), nodes, "the killed member caught up", func() bool {
		code, a := next.get("/api/v2/incidents.json")
		_, b := back.get("/api/v2/incidents.json")
		return code == http.StatusOK && a == b && strings.Contains(mustFetch(back.ops, "/api/v1/health"), `"outbox":{}`)
	})
	check("after the killed member's return")
}
