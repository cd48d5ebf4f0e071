package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
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

// publicDelayed reports whether the page, /api/v1/status and
// /api/v2/summary.json all say monitoring is delayed, with no component
// shown fresh and no green claimed, and since when (/api/v1's
// delayed_since).
func publicDelayed(base string) (since time.Time, why string) {
	page := mustFetch(base, "/")
	if !strings.Contains(page, "Monitoring delayed since") || !strings.Contains(page, "No recent data") ||
		strings.Contains(page, "All Systems Operational") || strings.Contains(page, "✓ Operational") {
		return since, "the page"
	}
	var v1 struct {
		Status     struct{ Description string }
		Monitoring struct {
			Delayed      bool       `json:"delayed"`
			DelayedSince *time.Time `json:"delayed_since"`
		}
		Components []struct{ Stale bool }
	}
	if err := json.Unmarshal([]byte(mustFetch(base, "/api/v1/status")), &v1); err != nil || !v1.Monitoring.Delayed ||
		v1.Monitoring.DelayedSince == nil || !strings.HasPrefix(v1.Status.Description, "Monitoring delayed since") || len(v1.Components) == 0 {
		return since, "/api/v1/status"
	}
	for _, c := range v1.Components {
		if !c.Stale {
			return since, "/api/v1/status"
		}
	}
	var v2 struct {
		Status struct {
			Indicator   string
			Description string
		}
		Components []struct {
			OutpostStale bool `json:"outpost_stale"`
		}
	}
	if err := json.Unmarshal([]byte(mustFetch(base, "/api/v2/summary.json")), &v2); err != nil ||
		!slices.Contains([]string{"none", "minor", "major", "critical"}, v2.Status.Indicator) ||
		!strings.HasPrefix(v2.Status.Description, "Monitoring delayed since") || len(v2.Components) == 0 {
		return since, "/api/v2/summary.json"
	}
	for _, c := range v2.Components {
		if !c.OutpostStale {
			return since, "/api/v2/summary.json"
		}
	}
	return *v1.Monitoring.DelayedSince, ""
}

// The real binary on a full disk: while it is full, every /healthz poll is
// 503, no incident reaches / or /api/v2, and an admin POST answers 5xx and
// leaves nothing behind. Within 5 s of the first failed commit, the page,
// /api/v1/status and /api/v2/summary.json say monitoring is delayed since
// then, and keep saying so. When space returns, the notice clears, the
// target's outage shows, exactly one incident.created post reaches
// Mastodon, and a restart shows the same incidents.
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
	// delayed_since is the node's clock at the first failed commit (the
	// same machine's clock as ours): the notice must be out 5 s after it.
	var since time.Time
	waitFor(t, 10*time.Second, "the public surfaces to say monitoring is delayed", func() bool {
		var why string
		since, why = publicDelayed(s.p.base)
		return why == ""
	}, s.p)
	if lag := time.Since(since); lag > 5*time.Second {
		t.Fatalf("the public surfaces said monitoring is delayed %v after the first failed commit (%v), want within 5s", lag, since)
	} else {
		t.Logf("delayed on all three public surfaces within %v of the first failed commit", lag.Round(time.Millisecond))
	}
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
		if at, why := publicDelayed(s.p.base); why != "" || !at.Equal(since) {
			t.Fatalf("poll %d: %s no longer says monitoring is delayed since %v (%v)", i, why, since, at)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if posts, _ := nets.snapshot(); posts["mastodon"] != 0 {
		t.Fatalf("%d posts while nothing was committed", posts["mastodon"])
	}

	free()
	nets.waitArrivals(t, 20*time.Second, "mastodon")
	waitFor(t, 10*time.Second, "/healthz to recover", func() bool { return statusCode(t, s.p.base+"/healthz") == 200 }, s.p)
	// Commits work again: the notice goes from every surface, and the
	// state resumes where the retained results take it (the target is
	// still down).
	waitFor(t, 10*time.Second, "the delayed notice to clear and the outage to show", func() bool {
		v1, v2 := mustFetch(s.p.base, "/api/v1/status"), mustFetch(s.p.base, "/api/v2/summary.json")
		return !strings.Contains(mustFetch(s.p.base, "/"), "Monitoring delayed") &&
			strings.Contains(v1, `"delayed": false`) && strings.Contains(v1, `"status": "major_outage"`) && !strings.Contains(v1, `"stale": true`) &&
			strings.Contains(v2, `"description":"Major Service Outage"`) && !strings.Contains(v2, `"outpost_stale":true`)
	}, s.p)
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
