package monitor

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/web"
)

// clock is an injected clock the test moves by hand.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func setup(t *testing.T) (*Monitor, served, *store.Store, *clock) {
	t.Helper()
	return setupAt(t, t.TempDir())
}

// served is the web server as the node drives it from the monitor's
// Published signal, made synchronous: a request first renders the newest
// snapshot when the monitor signalled one, so a test reads what the
// monitor published last (and fails if it published without signalling).
type served struct {
	*web.Server
	m *Monitor
	t *testing.T
}

func (s served) Handler() http.Handler {
	h := s.Server.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-s.m.Published():
			if err := s.Server.Update(s.m.Snapshot()); err != nil {
				s.t.Error(err)
			}
		default:
		}
		h.ServeHTTP(w, r)
	})
}

// setupAt is setup with the data file in dir.
func setupAt(t *testing.T, dir string) (*Monitor, served, *store.Store, *clock) {
	t.Helper()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	cfgPath := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
site: {title: Clock Test}
components: [{id: api, name: API}, {id: db, name: Database}]
checks:
  - {name: api-1, component: api, kind: tcp, target: "%[1]s", interval: 30s}
  - {name: db-1, component: db, kind: tcp, target: "%[1]s", interval: 30s}
`, closed)), 0o600)
	cfg, err := config.Load(cfgPath, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "m.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{now: time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)}
	srv, err := web.New(web.Options{Site: cfg.Site, SiteID: cfg.Site.ID, Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Options{Config: cfg, Store: st, Now: clk.Now, Logger: slog.New(slog.DiscardHandler),
		Route: func(ev status.Event) []store.Dest { return []store.Dest{{Name: "ops"}} }})
	if err != nil {
		t.Fatal(err)
	}
	return m, served{Server: srv, m: m, t: t}, st, clk
}

func fetch(t *testing.T, h http.Handler, path string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func up(check string, at time.Time) status.CheckResult {
	return status.CheckResult{Check: check, At: at, Result: probes.Result{Outcome: probes.Up, Reason: probes.ReasonOK}}
}

// With an injected clock and no results arriving, the prepared page and
// API turn from fresh to "no recent data" and "Monitoring delayed" on the
// timer's steps alone.
func TestNeverStaleGreen(t *testing.T) {
	m, srv, st, clk := setup(t)
	h := srv.Handler()
	if _, err := m.step(status.Batch{Now: clk.now, Results: []status.CheckResult{up("api-1", clk.now), up("db-1", clk.now)}}); err != nil {
		t.Fatal(err)
	}
	page := fetch(t, h, "/")
	if !strings.Contains(page, "All Systems Operational") || strings.Contains(page, "No recent data") {
		t.Fatal("fresh data is not shown as operational")
	}
	// No results; the publish timer steps with the clock 61 s later.
	clk.now = clk.now.Add(61 * time.Second)
	if _, err := m.step(status.Batch{Now: clk.now}); err != nil {
		t.Fatal(err)
	}
	page = fetch(t, h, "/")
	for _, want := range []string{"Monitoring delayed since 14:00 UTC", "? No recent data",
		`<div class="banner delayed" role="status">Monitoring delayed since 14:00 UTC</div>`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "All Systems Operational") {
		t.Error("the page still claims all systems operational")
	}
	api := fetch(t, h, "/api/v1/status")
	for _, want := range []string{`"delayed": true`, `"delayed_since": "2026-03-10T14:00:00Z"`, `"stale": true`} {
		if !strings.Contains(api, want) {
			t.Errorf("API lacks %s:\n%s", want, api)
		}
	}
	files, err := srv.Files(m.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Path == "index.html" && !strings.Contains(string(f.Body), "Monitoring delayed since 14:00 UTC") {
			t.Error("the static export does not say monitoring is delayed")
		}
	}
	rows, _ := st.Unfinished(100)
	found := false
	for _, r := range rows {
		found = found || r.Event.Type == status.MonitorDelayed
	}
	if !found {
		t.Error("operators were not told (no monitor.delayed outbox row)")
	}
	// Results again: fresh, and the banner goes.
	if _, err := m.step(status.Batch{Now: clk.now, Results: []status.CheckResult{up("api-1", clk.now), up("db-1", clk.now)}}); err != nil {
		t.Fatal(err)
	}
	if page := fetch(t, h, "/"); strings.Contains(page, "Monitoring delayed") || strings.Contains(page, "No recent data") {
		t.Error("the delay outlived fresh results")
	}
}

// A scheduler that does not fire makes liveness fail with the reason, so an
// orchestrator restarts the process; once it fires, liveness recovers.
func TestWedgedSchedulerFailsLiveness(t *testing.T) {
	m, _, _, clk := setup(t)
	if _, err := m.step(status.Batch{Now: clk.now}); err != nil {
		t.Fatal(err)
	}
	ok, reason := m.Health()
	if ok || !strings.Contains(reason, "scheduler has not fired") {
		t.Fatalf("a scheduler that never fired: healthy=%v %q", ok, reason)
	}
	m.Scheduler().Start()
	defer m.Scheduler().Stop(t.Context())
	if ok, reason := m.Health(); !ok {
		t.Fatalf("a running scheduler: unhealthy: %s", reason)
	}
}

// Liveness is judged on the monitor's clock, which the engine loop and the
// scheduler also read: with the clock an hour on and no step since, the
// loop has stalled, though no real time passed. (On the wall clock, as
// before, this read healthy.)
func TestHealthReadsTheInjectedClock(t *testing.T) {
	m, _, _, clk := setup(t) // the scheduler is not started: no goroutine reads clk
	if _, err := m.step(status.Batch{Now: clk.now}); err != nil {
		t.Fatal(err)
	}
	if _, reason := m.Health(); strings.Contains(reason, "engine loop stalled") {
		t.Fatalf("just stepped: %s", reason)
	}
	clk.now = clk.now.Add(time.Hour)
	if ok, reason := m.Health(); ok || !strings.Contains(reason, "engine loop stalled") {
		t.Fatalf("an hour without a step: healthy=%v %q", ok, reason)
	}
}

// A fresh data file claims nothing: before a component's checks have a
// confirmed status it shows "No data yet" (grey) on the page and badges,
// "no_data" in /api/v1, and is left out of /api/v2 (whose enums have no
// "unknown"), whose description reads "No data yet". A target down from the
// start is never shown green meanwhile.
func TestNoGreenBeforeData(t *testing.T) {
	m, srv, _, clk := setup(t)
	h := srv.Handler()
	check := func(when string, wants, bans map[string][]string) {
		t.Helper()
		for path, ws := range wants {
			got := fetch(t, h, path)
			for _, w := range ws {
				if !strings.Contains(got, w) {
					t.Errorf("%s: %s lacks %q:\n%.600s", when, path, w, got)
				}
			}
		}
		for path, bs := range bans {
			got := fetch(t, h, path)
			for _, b := range bs {
				if strings.Contains(got, b) {
					t.Errorf("%s: %s has %q", when, path, b)
				}
			}
		}
	}
	if _, err := m.step(status.Batch{Now: clk.now}); err != nil {
		t.Fatal(err)
	}
	check("fresh file", map[string][]string{
		"/":                       {`<div class="banner nodata" role="status">No data yet</div>`, "– No data yet"},
		"/api/v1/status":          {`"indicator": "no_data"`, `"description": "No data yet"`, `"status": "no_data"`},
		"/api/v2/summary.json":    {`"components":[]`, `"indicator":"none","description":"No data yet"`},
		"/api/v2/components.json": {`"components":[]`},
		"/badge/api.svg":          {"No data yet", "#6e7781"},
	}, map[string][]string{
		"/":                    {"All Systems Operational", "✓ Operational"},
		"/api/v1/status":       {"operational"},
		"/api/v2/summary.json": {"operational", "All Systems Operational"},
		"/badge/api.svg":       {"Operational"},
	})

	// The api target is down from the start (not yet confirmed), the db
	// is up: db has data, api still has none, so nobody claims all is well.
	clk.now = clk.now.Add(30 * time.Second)
	if _, err := m.step(status.Batch{Now: clk.now, Results: []status.CheckResult{down("api-1", clk.now), up("db-1", clk.now)}}); err != nil {
		t.Fatal(err)
	}
	check("api failing, db up", map[string][]string{
		"/":                    {"No data yet", "✓ Operational"},
		"/api/v2/summary.json": {`"id":"db"`, `"description":"No data yet"`},
		"/badge/db.svg":        {"Operational"},
	}, map[string][]string{
		"/":                    {"All Systems Operational"},
		"/api/v2/summary.json": {`"id":"api"`},
		"/badge/api.svg":       {"Operational"},
	})

	// Confirmed down: a real status everywhere.
	for range 2 {
		clk.now = clk.now.Add(30 * time.Second)
		if _, err := m.step(status.Batch{Now: clk.now, Results: []status.CheckResult{down("api-1", clk.now), up("db-1", clk.now)}}); err != nil {
			t.Fatal(err)
		}
	}
	check("api confirmed down", map[string][]string{
		"/":                    {"Major Service Outage"},
		"/api/v2/summary.json": {`"id":"api"`, `"status":"major_outage"`},
	}, map[string][]string{"/": {"No data yet"}})
}

// Today's bar and the uptime figures change in the same snapshot as the
// status: outage time counts from the first failed run, not from the
// confirming one, and the page is not left green for a minute.
func TestUptimeMovesWithTheStatus(t *testing.T) {
	m, srv, _, clk := setup(t)
	if _, err := m.step(status.Batch{Now: clk.now, Results: []status.CheckResult{up("api-1", clk.now), up("db-1", clk.now)}}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // the third failure confirms (failure_threshold 3)
		clk.now = clk.now.Add(10 * time.Second)
		if _, err := m.step(status.Batch{Now: clk.now, Results: []status.CheckResult{down("api-1", clk.now)}}); err != nil {
			t.Fatal(err)
		}
		if i < 2 && m.Snapshot().Components[0].Status != status.Operational {
			t.Fatalf("api went down after %d failures", i+1)
		}
	}
	s := m.Snapshot()
	if s.Components[0].Status != status.MajorOutage {
		t.Fatalf("api is %s, want major_outage", s.Components[0].Status)
	}
	u := s.Uptime["api"]
	today := u.Days[len(u.Days)-1]
	if today.Status != status.MajorOutage || today.Percent >= 1 {
		t.Errorf("today's cell in the step of the outage: %s %.4f, want major_outage below 100%%", today.Status, today.Percent)
	}
	if u.Percent >= 1 || u.Windows["24h"] >= 1 || u.Windows["7d"] >= 1 {
		t.Errorf("uptime in the step of the outage: 90d %.4f, 24h %.4f, 7d %.4f, want all below 1", u.Percent, u.Windows["24h"], u.Windows["7d"])
	}
	if api := fetch(t, srv.Handler(), "/api/v1/status"); strings.Contains(api, `"uptime_90d": 1,`) {
		t.Errorf("/api/v1/status still says 100%% uptime:\n%s", api)
	}
	if page := fetch(t, srv.Handler(), "/"); strings.Count(page, "<span>100% uptime</span>") != 1 { // db only
		t.Errorf("the page shows %d components at 100%% uptime, want 1", strings.Count(page, "<span>100% uptime</span>"))
	}
}

// A window cancelled before it starts reads "Cancelled" everywhere: the
// page, /api/v2 (status stays in Statuspage's enum, with
// outpost_cancelled), feeds, the outbox event and the calendar, which
// drops it with STATUS:CANCELLED. A name with a bare CR cannot inject
// calendar properties.
func TestCancelledMaintenanceEverywhere(t *testing.T) {
	m, srv, st, clk := setup(t)
	h := srv.Handler()
	name := "DB upgrade\rX-INJECTED:1"
	ch, err := m.step(status.Batch{Now: clk.now, Commands: []status.Command{{Kind: status.ScheduleMaintenance, Name: name,
		Body: "Writes pause.", Components: map[string]status.ComponentStatus{"db": ""}, Start: clk.now.Add(2 * time.Hour), End: clk.now.Add(3 * time.Hour)}}})
	if err != nil || ch.Replies[0].Err != "" {
		t.Fatal(err, ch.Replies)
	}
	id := ch.Replies[0].IncidentID
	clk.now = clk.now.Add(time.Minute)
	if ch, err = m.step(status.Batch{Now: clk.now, Commands: []status.Command{{Kind: status.CancelMaintenance, IncidentID: id}}}); err != nil || ch.Replies[0].Err != "" {
		t.Fatal(err, ch.Replies)
	}
	if page := fetch(t, h, "/incidents/"+id); !strings.Contains(page, "Cancelled") || strings.Contains(page, "ompleted") {
		t.Errorf("incident page does not read Cancelled:\n%.2000s", page)
	}
	v2 := fetch(t, h, "/api/v2/scheduled-maintenances.json")
	for _, want := range []string{`"status":"completed"`, `"outpost_cancelled":true`, "This maintenance has been cancelled."} {
		if !strings.Contains(v2, want) {
			t.Errorf("/api/v2 lacks %s:\n%s", want, v2)
		}
	}
	if strings.Contains(v2, `"status":"cancelled"`) {
		t.Error("/api/v2 left Statuspage's enum")
	}
	if feed := fetch(t, h, "/feed.atom"); !strings.Contains(feed, "cancelled") {
		t.Errorf("the feed does not say cancelled:\n%.1500s", feed)
	}
	rows, _ := st.Unfinished(100)
	var types []status.EventType
	for _, r := range rows {
		types = append(types, r.Event.Type)
	}
	if !slices.Contains(types, status.MaintenanceCancelled) || slices.Contains(types, status.MaintenanceCompleted) {
		t.Errorf("outbox events %v, want maintenance.cancelled and no maintenance.completed", types)
	}
	cal := strings.ReplaceAll(fetch(t, h, "/maintenance.ics"), "\r\n ", "")
	for _, want := range []string{"METHOD:PUBLISH", "UID:" + id + "@", "STATUS:CANCELLED", "SEQUENCE:1", "LAST-MODIFIED:20260310T140100Z",
		"DTSTAMP:20260310T140100Z", "URL:http://127.0.0.1:8080/incidents/" + id, `SUMMARY:DB upgrade\nX-INJECTED:1`} {
		if !strings.Contains(cal, want) {
			t.Errorf("calendar lacks %q:\n%s", want, cal)
		}
	}
	for _, l := range strings.Split(cal, "\r\n") {
		if strings.HasPrefix(l, "X-INJECTED") || strings.Contains(l, "\r") {
			t.Errorf("calendar line %q carries an injected property or a bare CR", l)
		}
	}
}

// The store signals Work after a step that committed announcements, and
// only then: the node wakes the delivery loops on it.
func TestWorkSignalsOnlyAStepWithAnnouncements(t *testing.T) {
	m, _, st, clk := setup(t)
	committed := func() bool {
		select {
		case <-st.Work():
			return true
		default:
			return false
		}
	}
	announced := false
	for i := range 10 {
		clk.now = clk.now.Add(30 * time.Second)
		ch, err := m.step(status.Batch{Now: clk.now, Results: []status.CheckResult{down("api-1", clk.now), up("db-1", clk.now)}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := committed(), len(ch.Events) > 0; got != want {
			t.Fatalf("step %d: %d events, Work signalled: %v", i, len(ch.Events), got)
		}
		announced = announced || len(ch.Events) > 0
	}
	if !announced {
		t.Fatal("no step announced anything: the test proves nothing")
	}
}
