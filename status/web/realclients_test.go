package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/webhook"
)

// python3 runs a script with Debian's python3 (/usr/bin/python3, which
// Debian's python3-* packages extend, even when another python3 comes
// first in PATH) and the module it needs; without them the test skips,
// except under CI, which installs them.
func python3(t *testing.T, module, script string, args ...string) string {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		py = "python3"
	}
	if err := exec.Command(py, "-c", "import "+module).Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3 with %s missing in CI: .ci/run must install it", module)
		}
		t.Skipf("no python3 %s (apt-get install python3-%s)", module, module)
	}
	out, err := exec.Command(py, append([]string{"-c", script}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("python3 %s: %v\n%s", module, err, out)
	}
	return string(out)
}

// Feeds and the calendar as real clients read them: Python's feedparser
// (no bozo flag, items with their own dates, rel=self right) and icalendar.
func TestFeedsAndCalendarInRealClients(t *testing.T) {
	s, _ := testServer(t)
	h := s.Handler()
	dir := t.TempDir()
	for _, p := range []string{"/feed.rss", "/history.rss", "/feed.atom", "/history.atom", "/maintenance.ics"} {
		os.WriteFile(filepath.Join(dir, strings.TrimPrefix(p, "/")), []byte(body(t, get(t, h, p))), 0o600)
	}
	out := python3(t, "feedparser", `
import sys, feedparser
for name in sys.argv[1:]:
    f = feedparser.parse(name)
    self = [l.href for l in f.feed.get("links", []) if l.get("rel") == "self"]
    print(name.rsplit("/", 1)[1], "bozo=%d" % f.bozo, "items=%d" % len(f.entries), "lang=%s" % f.feed.get("language", ""),
          "self=%s" % (self[0] if self else ""), "dated=%d" % sum(1 for e in f.entries if e.get("published_parsed") or e.get("updated_parsed")))
`, filepath.Join(dir, "feed.rss"), filepath.Join(dir, "history.rss"), filepath.Join(dir, "feed.atom"), filepath.Join(dir, "history.atom"))
	for _, want := range []string{"feed.rss bozo=0", "history.rss bozo=0", "feed.atom bozo=0", "history.atom bozo=0",
		"self=https://status.acme.test/history.rss", "self=https://status.acme.test/history.atom", "lang=en"} {
		if !strings.Contains(out, want) {
			t.Errorf("feedparser says:\n%s\nlacking %q", out, want)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) > 5 && strings.TrimPrefix(f[2], "items=") != strings.TrimPrefix(f[5], "dated=") {
			t.Errorf("undated items: %s", l)
		}
	}
	cal := python3(t, "icalendar", `
import sys, icalendar
c = icalendar.Calendar.from_ical(open(sys.argv[1], "rb").read())
print("method=%s" % c.get("method"))
for e in c.walk("VEVENT"):
    print("event", e.get("uid"), e.get("status"), e.get("sequence"), e.get("url"), e.get("summary"))
`, filepath.Join(dir, "maintenance.ics"))
	if !strings.Contains(cal, "method=PUBLISH") || !strings.Contains(cal, "event mnt-db-upgrade-") || !strings.Contains(cal, "CONFIRMED") ||
		!strings.Contains(cal, "https://status.acme.test/incidents/mnt-db-upgrade-") {
		t.Errorf("icalendar reads:\n%s", cal)
	}
}

// node runs testdata/clients/check.js with the npm clients installed
// there (npm ci, which .ci/run does); without them the test skips, except
// under CI.
func node(t *testing.T, args ...string) string {
	t.Helper()
	npmClients(t)
	out, err := exec.Command("node", append([]string{"testdata/clients/check.js"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	return string(out)
}

// npmClients skips the test without the npm clients, except under CI.
func npmClients(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("testdata/clients/node_modules/standardwebhooks"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("npm clients missing in CI: .ci/run must run npm ci in status/web/testdata/clients")
		}
		t.Skip("no npm clients (cd status/web/testdata/clients && npm ci)")
	}
}

// The feeds and the calendar in npm's rss-parser and node-ical.
func TestFeedsAndCalendarInNodeClients(t *testing.T) {
	s, snap := testServer(t)
	h := s.Handler()
	dir := t.TempDir()
	for _, p := range []string{"/feed.rss", "/feed.atom", "/maintenance.ics"} {
		os.WriteFile(filepath.Join(dir, strings.TrimPrefix(p, "/")), []byte(body(t, get(t, h, p))), 0o600)
	}
	updates := len(snap.Upcoming)
	for _, inc := range snap.Recent {
		updates += len(inc.Updates)
	}
	entries := len(snap.Recent) + len(snap.Upcoming)
	out := node(t, "feed", filepath.Join(dir, "feed.rss"), filepath.Join(dir, "feed.atom"))
	for _, want := range []string{
		fmt.Sprintf("feed feed.rss items=%d dated=%d guids=%d", updates, updates, updates),
		fmt.Sprintf("feed feed.atom items=%d dated=%d guids=%d", entries, entries, entries),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rss-parser says:\n%s\nlacking %q", out, want)
		}
	}
	cal := node(t, "ical", filepath.Join(dir, "maintenance.ics"))
	if !strings.Contains(cal, "event mnt-db-upgrade-") || !strings.Contains(cal, "CONFIRMED 0 https://status.acme.test/incidents/mnt-db-upgrade-") {
		t.Errorf("node-ical reads:\n%s", cal)
	}
}

// Webhook signatures verify in the Standard Webhooks reference library
// (npm standardwebhooks), for both secrets during a rotation; another
// secret is refused.
func TestWebhookSignaturesInStandardWebhooks(t *testing.T) {
	a, _ := webhook.NewSecret()
	b, _ := webhook.NewSecret()
	other, _ := webhook.NewSecret()
	body := []byte(`{"type":"incident.created","sequence":7,"timestamp":"2026-11-26T12:03:10.520Z","data":{"page":{"id":"acme"}}}`)
	h := http.Header{}
	if err := webhook.SetHeaders(h, "evt-7", time.Now(), body, a, b); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	headers, _ := json.Marshal(map[string]string{"webhook-id": h.Get(webhook.HeaderID), "webhook-timestamp": h.Get(webhook.HeaderTimestamp),
		"webhook-signature": h.Get(webhook.HeaderSignature)})
	os.WriteFile(filepath.Join(dir, "secrets"), []byte(a+"\n"+b+"\n"+other+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "headers.json"), headers, 0o600)
	os.WriteFile(filepath.Join(dir, "body"), body, 0o600)
	out := node(t, "webhook", filepath.Join(dir, "secrets"), filepath.Join(dir, "headers.json"), filepath.Join(dir, "body"))
	for _, want := range []string{"verified " + a[:10] + " incident.created", "verified " + b[:10] + " incident.created", "refused " + other[:10]} {
		if !strings.Contains(out, want) {
			t.Errorf("standardwebhooks says:\n%s\nlacking %q", out, want)
		}
	}
}
