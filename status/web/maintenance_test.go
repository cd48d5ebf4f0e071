package web

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
)

// windows is a site with two maintenance windows scheduled through the
// API at t0: "Network upgrade" from 16:02 to 17:02 UTC, and "Disk swap"
// from 18:02 to 19:02 UTC, cancelled at 14:32 before it started. at moves
// the engine on and serves what it shows then.
type windows struct {
	t              *testing.T
	e              *status.Engine
	st             *store.Store
	s              *Server
	upgrade, swap  string
	started, nowAt time.Time
}

func newWindows(t *testing.T) *windows {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "maint.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := &status.Model{AutoIncidents: true, Components: []status.ComponentDef{{ID: "db", Name: "Database"}},
		Checks: []status.CheckDef{{Name: "db-1", Component: "db", FailureThreshold: 1, SuccessThreshold: 1, Every: 30 * time.Second}}}
	w := &windows{t: t, e: status.NewEngine(m, nil), st: st, started: t0.Add(-time.Hour)}
	w.s, err = New(Options{Site: config.Site{Title: "Acme Status", URL: "https://status.acme.test", TimeZone: "UTC", Location: time.UTC},
		SiteID: "acme", Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	up := status.CheckResult{Check: "db-1", At: w.started, Result: probes.Result{Outcome: probes.Up, Reason: probes.ReasonOK}}
	w.apply(w.started, []status.CheckResult{up})
	db := map[string]status.ComponentStatus{"db": status.UnderMaintenance}
	w.upgrade = w.apply(t0, nil, status.Command{Kind: status.ScheduleMaintenance, Name: "Network upgrade", Body: "Switches are replaced.",
		Components: db, Start: t0.Add(2 * time.Hour), End: t0.Add(3 * time.Hour)})
	w.swap = w.apply(t0.Add(time.Minute), nil, status.Command{Kind: status.ScheduleMaintenance, Name: "Disk swap",
		Components: db, Start: t0.Add(4 * time.Hour), End: t0.Add(5 * time.Hour)})
	w.apply(t0.Add(30*time.Minute), nil, status.Command{Kind: status.CancelMaintenance, IncidentID: w.swap})
	return w
}

// apply runs one engine step, commits it, serves its snapshot and returns
// the first command's incident id.
func (w *windows) apply(now time.Time, rs []status.CheckResult, cmds ...status.Command) string {
	w.t.Helper()
	ch := w.e.Apply(status.Batch{Now: now, Results: rs, Commands: cmds})
	if _, err := w.st.Apply(store.Entry{At: now, Step: store.NewStep(ch, w.e.State(), nil)}); err != nil {
		w.t.Fatal(err)
	}
	snap := w.e.Snapshot(now, w.started)
	snap.History, _ = w.st.Incidents(10, func(i *status.Incident) bool { return !i.Open() }, nil)
	snap.Recent, _ = w.st.Incidents(50, nil, nil)
	if err := w.s.Update(snap); err != nil {
		w.t.Fatal(err)
	}
	w.nowAt = now
	if len(ch.Replies) == 0 {
		return ""
	}
	if r := ch.Replies[0]; r.Err != "" {
		w.t.Fatalf("command refused: %s", r.Err)
	}
	return ch.Replies[0].IncidentID
}

func (w *windows) page(path string) string {
	w.t.Helper()
	r := get(w.t, w.s.Handler(), path)
	if r.StatusCode != http.StatusOK {
		w.t.Fatalf("%s: %d", path, r.StatusCode)
	}
	return body(w.t, r)
}

// v2 finds the window id in a v2 maintenance list.
func (w *windows) v2(path, id string) map[string]any {
	w.t.Helper()
	for _, x := range getJSON(w.t, w.s.Handler(), path)["scheduled_maintenances"].([]any) {
		if m := x.(map[string]any); m["id"] == id {
			return m
		}
	}
	w.t.Fatalf("%s does not list %s", path, id)
	return nil
}

// Issue #25, items 8 to 10: a window to come says when it starts and
// ends, links to its page and is no past incident; in progress it says
// when it ends; cancelled before it started, it has no start and no
// duration; started_at is null until it starts.
func TestMaintenanceToldRight(t *testing.T) {
	w := newWindows(t)
	const when = "Scheduled for Mar 10, 16:02 – 17:02 UTC"
	home := w.page("/")
	past := home[strings.Index(home, `id="past"`):]
	for _, tc := range []struct {
		where, text string
		want        bool
	}{
		{"home: the upcoming card links to its page", `<a href="/incidents/` + w.upgrade + `">Network upgrade</a>`, true},
		{"home: the upcoming card says when", when, true},
		{"home: past incidents list the window to come", w.upgrade, false},
		{"home: the cancelled window", "Cancelled (was scheduled for Mar 10, 18:02 – 19:02 UTC)", true},
		{"home: the cancelled window lasted", "lasted", false},
	} {
		in := home
		if strings.Contains(tc.where, "past") || strings.Contains(tc.where, "cancelled") {
			in = past
		}
		if strings.Contains(in, tc.text) != tc.want {
			t.Errorf("%s: contains %q = %v, want %v", tc.where, tc.text, !tc.want, tc.want)
		}
	}
	hist := w.page("/history")
	if strings.Contains(hist, w.upgrade) || !strings.Contains(hist, "Cancelled (was scheduled for Mar 10, 18:02 – 19:02 UTC)") || strings.Contains(hist, "lasted") {
		t.Errorf("/history lists what is to come, or a cancelled window as if it ran:\n%s", hist[strings.Index(hist, "<h2>"):])
	}
	if p := w.page("/incidents/" + w.upgrade); !strings.Contains(p, when) || strings.Contains(p, "Started") {
		t.Errorf("the upcoming window's page does not say %q, or says it started:\n%s", when, p[strings.Index(p, "<article"):])
	}
	if p := w.page("/incidents/" + w.swap); strings.Contains(p, "Started") || strings.Contains(p, "Duration") {
		t.Errorf("the cancelled window's page says it started or lasted:\n%s", p[strings.Index(p, "<article"):])
	}
	up := w.v2("/api/v2/scheduled-maintenances/upcoming.json", w.upgrade)
	if up["started_at"] != nil || up["scheduled_for"] != "2026-03-10T16:02:00.000Z" || up["scheduled_until"] != "2026-03-10T17:02:00.000Z" {
		t.Errorf("upcoming: started_at %v, scheduled %v – %v", up["started_at"], up["scheduled_for"], up["scheduled_until"])
	}
	if c := w.v2("/api/v2/scheduled-maintenances.json", w.swap); c["started_at"] != nil {
		t.Errorf("cancelled before it started: started_at %v, resolved_at %v", c["started_at"], c["resolved_at"])
	}

	w.apply(t0.Add(2*time.Hour+30*time.Second), nil) // the upgrade starts
	home = w.page("/")
	card := home[strings.Index(home, `id="maint"`):strings.Index(home, `id="components"`)]
	if !strings.Contains(card, "Until 17:02 UTC") {
		t.Errorf("the card of the window in progress does not say when it ends:\n%s", card)
	}
	if p := w.page("/incidents/" + w.upgrade); !strings.Contains(p, "Until 17:02 UTC") {
		t.Errorf("the page of the window in progress does not say when it ends:\n%s", p[strings.Index(p, "<article"):])
	}
	if a := w.v2("/api/v2/scheduled-maintenances/active.json", w.upgrade); a["started_at"] != "2026-03-10T16:02:00.000Z" {
		t.Errorf("in progress: started_at %v", a["started_at"])
	}
}

// Feeds and the calendar say when a window happens, its zone named, and
// feed titles are the site's title.
func TestMaintenanceFeedsSayWhen(t *testing.T) {
	w := newWindows(t)
	const when = "Scheduled for Mar 10, 16:02 – 17:02 UTC"
	for _, path := range []string{"/feed.rss", "/feed.atom", "/feed.json"} {
		b := w.page(path)
		if !strings.Contains(b, when) {
			t.Errorf("%s does not say %q", path, when)
		}
		if strings.Contains(b, "Acme Status status") {
			t.Errorf("%s: title reads \"Acme Status status\"", path)
		}
	}
	var f struct{ Title string }
	if err := json.Unmarshal([]byte(w.page("/feed.json")), &f); err != nil || f.Title != "Acme Status" {
		t.Errorf("feed.json title %q (%v), want the site's title", f.Title, err)
	}
	ics := strings.ReplaceAll(w.page("/maintenance.ics"), "\r\n ", "")
	if !strings.Contains(ics, `Scheduled for Mar 10\, 16:02 – 17:02 UTC`) {
		t.Errorf("the calendar's description does not say when:\n%s", ics)
	}
}
