package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The documented restore procedure, end to end with the real binary: an
// incident published after the backup is lost with the file, and the
// first incident after the restore gets a new Mastodon idempotency key, a
// new PagerDuty dedup_key and a webhook-id the receiver has not seen (each
// fake de-duplicates as the real service does, so a repeat would swallow
// the announcement). Old links keep resolving to their own incident.
func TestRestoreNeverRepeatsAnnouncements(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	nets := newFakeNetworks(t)
	u, _ := url.Parse(nets.srv.URL)
	rcv := newHookReceiver(t)
	s := startShop(t, "Restore Test", "", fmt.Sprintf(`webhooks: {enabled: true, allow_http: true, allow_private_targets: true}
incidents: {reopen_window: 1ms}
channels:
  - {name: mastodon, kind: mastodon, server: "http://%[1]s", token: t0ken, timeout: 30s}
  - {name: pagerduty, kind: pagerduty, url: "http://%[1]s", routing_key: R0UTE, timeout: 30s}
`, u.Host))
	p := s.p
	waitFor(t, 10*time.Second, "the shop up", func() bool { return strings.Contains(mustFetch(p.base, "/api/v1/status"), `"operational"`) }, p)
	created := rcv.subscribe(t, p.base, "")
	waitFor(t, 15*time.Second, "the subscription verified", func() bool {
		_, b := request(t, "GET", p.base+"/api/v1/subscriptions/"+created.ID, created.UnsubscribeToken, "")
		return strings.Contains(b, `"state":"active"`)
	}, p)

	outage := func(p *outpostProc, n int) string {
		t.Helper()
		s.tg.stop()
		waitFor(t, 20*time.Second, fmt.Sprintf("outage %d announced everywhere", n), func() bool {
			posts, _ := nets.snapshot()
			_, answered, _ := rcv.seen()
			return posts["mastodon"] >= n && posts["pagerduty"] >= 2*n-1 && countPrefix(answered, "incident.created ") >= n
		}, p)
		// The page renders on its own goroutine: the announcements can
		// arrive before it lists the incident (a loaded CI run read the
		// previous outage's id here).
		var id string
		waitFor(t, 10*time.Second, fmt.Sprintf("outage %d on the page", n), func() bool {
			open := strings.Split(mustFetch(p.base, "/api/v2/incidents/unresolved.json"), `"shortlink":"`)
			if len(open) < 2 {
				return false
			}
			link, _, _ := strings.Cut(open[1], `"`)
			id = link[strings.LastIndex(link, "/")+1:]
			return true
		}, p)
		s.tg.start(t)
		waitFor(t, 20*time.Second, fmt.Sprintf("outage %d resolved", n), func() bool {
			posts, _ := nets.snapshot()
			_, answered, _ := rcv.seen()
			return posts["pagerduty"] >= 2*n && countPrefix(answered, "incident.resolved ") >= n
		}, p)
		return id
	}
	kept := outage(p, 1) // before the backup: in the copy

	backup := filepath.Join(t.TempDir(), "backup.db")
	if out, err := cli(t, s.bin, "backup", "-config", s.cfg, "-out", backup); err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	lost := outage(p, 2) // after the backup: the restore loses it
	_, lostHooks, _ := rcv.seen()

	// Restore as docs/operations.md says: stop, copy the backup over the
	// data file, start.
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(s.cfg), "data", "outpost.db"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	p = startOutpost(t, s.bin, s.cfg, s.listen)
	if !strings.Contains(p.log(), "restored backup") {
		t.Errorf("the restore was not noticed:\n%s", p.log())
	}
	fresh := outage(p, 3) // counted posts only grow if no key repeats

	if fresh == lost || fresh == kept {
		t.Fatalf("the new incident %s reuses an id published before (kept %s, lost %s)", fresh, kept, lost)
	}
	_, answered, _ := rcv.seen()
	for _, a := range answered[len(lostHooks):] {
		for _, old := range lostHooks {
			if a == old {
				t.Errorf("webhook %q repeats a webhook-id the receiver already has", a)
			}
		}
	}
	if page := mustFetch(p.base, "/incidents/"+kept); !strings.Contains(page, "Shop is unavailable") {
		t.Errorf("/incidents/%s no longer shows its incident", kept)
	}
	if page := mustFetch(p.base, "/incidents/"+fresh); !strings.Contains(page, "Shop is unavailable") {
		t.Errorf("/incidents/%s does not show the new incident", fresh)
	}
	if code, _ := request(t, "GET", p.base+"/incidents/"+lost, "", ""); code != 404 {
		t.Errorf("the lost incident's link answers %d, not 404: it points at another incident", code)
	}
}

func countPrefix(list []string, prefix string) int {
	n := 0
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}
