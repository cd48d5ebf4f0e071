package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testHost is a network namespace joined to this host by a veth pair: the
// project's own test host, on addresses this test creates and removes.
type testHost struct {
	ns, hostIP, nsIP, dev string
}

func newTestHost(t *testing.T) *testHost {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "network namespace tests need root")
	}
	n := rand.IntN(200) + 20
	h := &testHost{ns: fmt.Sprintf("outpost-t%d", n), hostIP: fmt.Sprintf("10.203.%d.1", n), nsIP: fmt.Sprintf("10.203.%d.2", n), dev: fmt.Sprintf("opv%d", n)}
	cmds := [][]string{
		{"netns", "add", h.ns},
		{"netns", "exec", h.ns, "ip", "link", "set", "lo", "up"},
		{"link", "add", h.dev + "a", "type", "veth", "peer", "name", h.dev + "b"},
		{"link", "set", h.dev + "b", "netns", h.ns},
		{"addr", "add", h.hostIP + "/24", "dev", h.dev + "a"},
		{"link", "set", h.dev + "a", "up"},
		{"netns", "exec", h.ns, "ip", "addr", "add", h.nsIP + "/24", "dev", h.dev + "b"},
		{"netns", "exec", h.ns, "ip", "link", "set", h.dev + "b", "up"},
	}
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", h.dev+"a").Run()
		_ = exec.Command("ip", "netns", "del", h.ns).Run()
	})
	for _, c := range cmds {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			skipOrFail(t, fmt.Sprintf("cannot create a network namespace (ip %s: %v %s)", strings.Join(c, " "), err, out))
		}
	}
	return h
}

func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why + ": CI runs as root and must not skip this test")
	}
	t.Skip(why)
}

// in runs a command inside the namespace.
func (h *testHost) in(args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.ns}, args...)...)
}

// The systemd-networkd failure of 2025: the monitor's own routes vanish.
// With canaries, Outpost says it cannot see instead of declaring the world
// down; when it can see again, a real failure is announced as usual.
func TestCutOffMonitorInNamespace(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary in a network namespace")
	}
	h := newTestHost(t)
	bin := outpostBinary(t)
	nets := newFakeNetworksOn(t, h.hostIP+":0")
	shop := &target{addr: h.hostIP + ":0"}
	shop.start(t)
	defer shop.stop()
	canA, canB := &target{addr: h.hostIP + ":0"}, &target{addr: h.hostIP + ":0"}
	canA.start(t)
	canB.start(t)
	defer canA.stop()
	defer canB.stop()

	cfg := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
site: {title: Cut Off}
listen: 127.0.0.1:18080
components: [{id: shop, name: Shop}]
checks:
  - {name: shop-home, component: shop, kind: http, target: "http://%[1]s/", interval: 1s, timeout: 500ms, failure_threshold: 2, success_threshold: 1, recheck_interval: 300ms}
canaries:
  - {name: canary-a, kind: http, target: "http://%[2]s/", interval: 1s, timeout: 500ms, failure_threshold: 2, success_threshold: 1, recheck_interval: 300ms}
  - {name: canary-b, kind: tcp, target: "%[3]s", interval: 1s, timeout: 500ms, failure_threshold: 2, success_threshold: 1, recheck_interval: 300ms}
channels:
  - {name: mastodon, kind: mastodon, server: "%[4]s", token: t0ken}
  - {name: ops, kind: slack, url: "%[4]s/slack"}
`, shop.addr, canA.addr, canB.addr, nets.srv.URL)), 0o600)
	srv := h.in(bin, "serve", "-config", cfg)
	var logs strings.Builder
	srv.Stderr = &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	status := func() string { // read the API from inside the namespace
		out, _ := h.in(bin, "healthcheck", "-url", "http://127.0.0.1:18080/api/v1/status").Output()
		return string(out)
	}
	wait := func(what string, cond func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond(status()) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\nstatus: %s\nlogs:\n%s", what, status(), logs.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	wait("the shop seen up", func(s string) bool {
		return strings.Contains(s, `"status": "operational"`) && strings.Contains(s, `"last_checked_at": "`)
	})

	// Flush the monitor's routes: targets, canaries and channels vanish.
	if out, err := h.in("ip", "route", "flush", "table", "main").CombinedOutput(); err != nil {
		t.Fatalf("flush routes: %v %s", err, out)
	}
	wait("monitoring connectivity degraded", func(s string) bool { return !strings.Contains(s, `"connectivity_degraded_since": null`) })
	if s := status(); !strings.Contains(s, `"incidents": []`) || !strings.Contains(s, `"status": "operational"`) || !strings.Contains(s, `"stale": true`) {
		t.Fatalf("cut off, yet the API declares an outage or claims fresh data:\n%s", s)
	}
	page, _ := h.in(bin, "healthcheck", "-url", "http://127.0.0.1:18080/").Output()
	if !strings.Contains(string(page), "Monitoring connectivity degraded since") || strings.Contains(string(page), "Major Service Outage") {
		t.Fatalf("the page does not say Outpost is cut off:\n%s", page)
	}

	// Routes back: connectivity restored, operators told both, public told
	// nothing.
	if out, err := h.in("ip", "route", "add", strings.TrimSuffix(h.hostIP, ".1")+".0/24", "dev", h.dev+"b").CombinedOutput(); err != nil {
		t.Fatalf("restore route: %v %s", err, out)
	}
	wait("connectivity restored", func(s string) bool { return strings.Contains(s, `"connectivity_degraded_since": null`) })
	waitFor(t, 15*time.Second, "the operators' messages", func() bool {
		_, got := nets.snapshot()
		all := strings.Join(got["slack"], "\n")
		return strings.Contains(all, "Monitoring connectivity degraded") && strings.Contains(all, "Monitoring connectivity restored")
	}, nil)
	if posts, _ := nets.snapshot(); posts["mastodon"] != 0 {
		t.Fatalf("the public was told of an outage that was ours: %d posts", posts["mastodon"])
	}

	// A real failure, canaries fine: announced as usual.
	shop.stop()
	wait("a real incident", func(s string) bool { return strings.Contains(s, `"name": "Shop is unavailable"`) })
	waitFor(t, 15*time.Second, "the public post", func() bool {
		_, got := nets.snapshot()
		return len(got["mastodon"]) > 0 && strings.Contains(got["mastodon"][0], "Shop is unavailable")
	}, nil)
}
