package main

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/smalldisk"
)

func statusCode(t *testing.T, url string) int {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	return r.StatusCode
}

// The real binary on a full disk: while it is full, every /healthz poll is
// 503, no incident reaches / or /api/v2, and an admin POST answers 5xx and
// leaves nothing behind. When space returns, exactly one incident.created
// post reaches Mastodon, and a restart shows the same incidents.
func TestFullDiskEndToEnd(t *testing.T) {
	disk := smalldisk.Mount(t, "6m")
	nets := newFakeNetworks(t)
	u, _ := url.Parse(nets.srv.URL)
	t.Setenv("OUTPOST_TEST_OPS_TOKEN", opsToken)
	s := startShop(t, "Disk Status", "", fmt.Sprintf(`storage: {path: %q}
admin:
  tokens: [{name: oncall, token: "${OUTPOST_TEST_OPS_TOKEN}"}]
channels:
  - {name: mastodon, kind: mastodon, server: "http://%s", token: t0ken, timeout: 30s}
`, filepath.Join(disk, "outpost.db"), u.Host))
	waitFor(t, 10*time.Second, "the first results", func() bool {
		page, _ := fetch(s.p.base, "/")
		return strings.Contains(page, "All Systems Operational")
	}, s.p)

	free := smalldisk.Fill(t, disk)
	s.tg.stop()
	waitFor(t, 15*time.Second, "/healthz to fail on the full disk", func() bool { return statusCode(t, s.p.base+"/healthz") == 503 }, s.p)
	code, body := request(t, "POST", s.p.base+"/api/v1/incidents", opsToken,
		`{"name": "Phantom", "status": "investigating", "message": "must not exist"}`)
	if code < 500 || !strings.Contains(body, "nothing changed") {
		t.Fatalf("admin POST on a full disk: %d %s", code, body)
	}
	for i := 0; i < 30; i++ { // three seconds of polls, each must hold
		if c := statusCode(t, s.p.base+"/healthz"); c != 503 {
			t.Fatalf("poll %d: /healthz %d while the disk is full", i, c)
		}
		if page := mustFetch(s.p.base, "/"); strings.Contains(page, "Phantom") || strings.Contains(page, "Major Service Outage") {
			t.Fatalf("poll %d: the page shows an uncommitted incident", i)
		}
		if v2 := mustFetch(s.p.base, "/api/v2/incidents.json"); !strings.Contains(v2, `"incidents":[]`) {
			t.Fatalf("poll %d: /api/v2 shows an uncommitted incident: %s", i, v2)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if posts, _ := nets.snapshot(); posts["mastodon"] != 0 {
		t.Fatalf("%d posts while nothing was committed", posts["mastodon"])
	}

	free()
	nets.waitArrivals(t, 20*time.Second, "mastodon")
	waitFor(t, 10*time.Second, "/healthz to recover", func() bool { return statusCode(t, s.p.base+"/healthz") == 200 }, s.p)
	waitFor(t, 10*time.Second, "the incident on /api/v2", func() bool {
		return strings.Contains(mustFetch(s.p.base, "/api/v2/incidents.json"), `"shortlink"`)
	}, s.p)
	if v2 := mustFetch(s.p.base, "/api/v2/incidents.json"); strings.Count(v2, `"shortlink"`) != 1 || strings.Contains(v2, "Phantom") {
		t.Fatalf("after space returned, want one incident and no phantom: %s", v2)
	}
	// A clean stop and a restart: the same incidents, and no second post.
	_ = s.p.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.p.cmd.Wait()
	s.p = startOutpost(t, s.bin, s.cfg, s.listen)
	if again := mustFetch(s.p.base, "/api/v2/incidents.json"); strings.Count(again, `"shortlink"`) != 1 || strings.Contains(again, "Phantom") {
		t.Fatalf("after a restart: %s", again)
	}
	posts, got := nets.snapshot()
	if posts["mastodon"] != 1 || !strings.Contains(got["mastodon"][0], "Shop") {
		t.Fatalf("mastodon: %d posts %q, want exactly one incident.created", posts["mastodon"], got["mastodon"])
	}
}
