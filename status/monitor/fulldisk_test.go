package monitor

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/smalldisk"
)

func down(check string, at time.Time) status.CheckResult {
	return status.CheckResult{Check: check, At: at, Result: fullDiskDown}
}

// fullDiskDown is a failure whose step needs new space in the file: its
// message (kept in the check's state) spans several pages together. A
// step of a few small results fits in the pages earlier commits freed, and
// commits on a full disk too (nothing is lost then); these tests are about
// the steps that cannot.
var fullDiskDown = probes.Result{Outcome: probes.Down, Reason: probes.ReasonConnectionRefused, Message: strings.Repeat("connection refused ", 1000)}

// A step whose commit fails on a full disk is in force nowhere: no incident
// on the page or in the snapshot, a command's incident is neither stored
// nor shown, and health stays failing until a commit works again. From
// the first failed commit, the page, /api/v1/status and /api/v2 say
// monitoring is delayed since then and show every component as having no
// recent data (never "All Systems Operational"). Once space returns, the
// notice clears, the same results make exactly one incident and one
// incident.created row, and a restart sees the same state.
func TestFullDiskStepIsAllOrNothing(t *testing.T) {
	dir := smalldisk.Mount(t, "4m")
	m, srv, st, clk := setupAt(t, dir)
	h := srv.Handler()
	if _, err := m.step(status.Batch{Now: clk.now, Results: []status.CheckResult{up("api-1", clk.now), up("db-1", clk.now)}}); err != nil {
		t.Fatal(err)
	}
	free := smalldisk.Fill(t, dir)

	var failed []status.CheckResult
	for i := 1; i <= 3; i++ {
		clk.now = clk.now.Add(30 * time.Second)
		failed = append(failed, down("api-1", clk.now))
		_, err := m.step(status.Batch{Now: clk.now, Results: failed})
		if !errors.Is(err, status.ErrNotCommitted) {
			t.Fatalf("step %d on a full disk: err = %v, want ErrNotCommitted", i, err)
		}
		if ok, reason := m.Health(); ok || !strings.Contains(reason, "store commit failing") {
			t.Fatalf("step %d: health = %v %q while commits fail", i, ok, reason)
		}
		// From the first failed commit (14:00:30, when nothing is stale by
		// itself yet), and since then on every later one.
		assertDelayed(t, h, "2026-03-10T14:00:30Z", "14:00 UTC")
	}
	_, err := m.step(status.Batch{Now: clk.now, Commands: []status.Command{{Kind: status.CreateIncident, Name: "Phantom",
		Status: status.Investigating, Body: "should not exist", Author: "oncall"}}})
	if !errors.Is(err, status.ErrNotCommitted) {
		t.Fatalf("a command on a full disk: err = %v", err)
	}
	// The loop's next step carries the retained results again, and fails:
	// health stays failing.
	if _, err := m.step(status.Batch{Now: clk.now, Results: failed}); err == nil {
		t.Fatal("the retained results committed on a full disk")
	}
	if ok, _ := m.Health(); ok {
		t.Fatal("health recovered while the disk is still full")
	}
	if n := len(m.Snapshot().Incidents); n != 0 {
		t.Fatalf("the snapshot shows %d incidents that were never committed", n)
	}
	page := fetch(t, h, "/")
	for _, w := range []string{"Phantom", "Major Service Outage", "Partial System Outage"} {
		if strings.Contains(page, w) {
			t.Errorf("the page shows %q from the failed steps", w)
		}
	}
	if strings.Contains(page, "All Systems Operational") {
		t.Error("the page claims all systems operational while no step commits")
	}
	if v2 := fetch(t, h, "/api/v2/incidents.json"); !strings.Contains(v2, `"incidents":[]`) {
		t.Fatalf("/api/v2 shows an uncommitted incident: %s", v2)
	}
	if v2 := fetch(t, h, "/api/v2/components.json"); strings.Contains(v2, "outage") {
		t.Fatalf("/api/v2 shows an uncommitted status: %s", v2)
	}

	free()
	clk.now = clk.now.Add(time.Second)
	ch, err := m.step(status.Batch{Now: clk.now, Results: append(slices.Clone(failed), up("db-1", clk.now))})
	if err != nil {
		t.Fatalf("a step after space returned: %v", err)
	}
	assertNotDelayed(t, h)
	if _, reason := m.Health(); strings.Contains(reason, "commit") {
		t.Fatalf("health after a good commit: %s", reason)
	}
	if len(ch.Incidents) != 1 {
		t.Fatalf("the retried results made %d incidents, want 1", len(ch.Incidents))
	}
	rows, err := st.Unfinished(100)
	if err != nil {
		t.Fatal(err)
	}
	created := 0
	for _, r := range rows {
		if r.Event.Type == status.IncidentCreated {
			created++
		}
		if r.Event.Incident != nil && r.Event.Incident.Name == "Phantom" {
			t.Error("the failed command left an outbox row")
		}
	}
	if created != 1 {
		t.Fatalf("%d incident.created rows, want exactly 1", created)
	}
	if inc, err := st.Incidents(10, nil, nil); err != nil || len(inc) != 1 || inc[0].ID != ch.Incidents[0].ID {
		t.Fatalf("stored incidents %v (%v), want only %s", inc, err, ch.Incidents[0].ID)
	}
	// What a restart loads is what the monitor holds.
	loaded, err := st.LoadState(clk.now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var held *status.State
	m.o.Machine.Read(func(e *status.Engine) { held = e.State() })
	if got, want := len(loaded.Incidents), len(held.Incidents); got != want {
		t.Fatalf("restart would load %d incidents, the monitor holds %d", got, want)
	}
	if loaded.Seq != held.Seq || loaded.Components["api"].Status != held.Components["api"].Status {
		t.Fatalf("restart state differs: seq %d/%d, api %s/%s", loaded.Seq, held.Seq,
			loaded.Components["api"].Status, held.Components["api"].Status)
	}
}

// While commits fail, the results retained for the retry grow old; the
// notice still says since the first failed commit, not since the oldest
// waiting result, and once space returns the retried results commit
// without a delay notice of their own.
func TestFullDiskDelayedSinceFirstFailedCommit(t *testing.T) {
	dir := smalldisk.Mount(t, "4m")
	m, srv, _, clk := setupAt(t, dir)
	h := srv.Handler()
	if _, err := m.step(status.Batch{Now: clk.now, Results: []status.CheckResult{up("api-1", clk.now), up("db-1", clk.now)}}); err != nil {
		t.Fatal(err)
	}
	free := smalldisk.Fill(t, dir)
	clk.now = clk.now.Add(20 * time.Second) // 14:00:20, the first failed commit
	m.sink(probes.Report{Check: "api-1", Finished: clk.now.Add(-5 * time.Second), Result: fullDiskDown})
	var pending []status.CheckResult
	var window <-chan time.Time
	retry := newBackoff()
	for range 4 { // retries over three minutes: the retained result waits longer than a check period
		if err := m.flush(&pending, &window, retry, nil); err != nil {
			t.Fatal(err)
		}
		if len(pending) != 1 {
			t.Fatalf("%d results retained, want 1", len(pending))
		}
		assertDelayed(t, h, "2026-03-10T14:00:20Z", "14:00 UTC")
		clk.now = clk.now.Add(time.Minute)
		window = nil
	}
	free()
	m.sink(probes.Report{Check: "db-1", Finished: clk.now, Result: probes.Result{Outcome: probes.Up}})
	if err := m.flush(&pending, &window, retry, nil); err != nil || len(pending) != 0 {
		t.Fatalf("the retry after space returned: %v, %d results still waiting", err, len(pending))
	}
	if page := fetch(t, h, "/"); strings.Contains(page, "Monitoring delayed") {
		t.Error("the retried results made the page say monitoring is delayed")
	}
}

// assertDelayed checks the three public surfaces say monitoring is delayed
// since the given time and show no component as fresh.
func assertDelayed(t *testing.T, h http.Handler, since, clock string) {
	t.Helper()
	page := fetch(t, h, "/")
	for _, want := range []string{`<div class="banner delayed" role="status">Monitoring delayed since ` + clock + `</div>`,
		"? No recent data"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q while commits fail", want)
		}
	}
	if strings.Contains(page, "All Systems Operational") || strings.Contains(page, "✓ Operational") {
		t.Error("the page shows green while commits fail")
	}
	var v1 struct {
		Status     struct{ Description string }
		Monitoring struct {
			Delayed      bool   `json:"delayed"`
			DelayedSince string `json:"delayed_since"`
		}
		Components []struct {
			ID    string
			Stale bool
		}
	}
	if err := json.Unmarshal([]byte(fetch(t, h, "/api/v1/status")), &v1); err != nil {
		t.Fatal(err)
	}
	if !v1.Monitoring.Delayed || v1.Monitoring.DelayedSince != since || !strings.Contains(v1.Status.Description, "Monitoring delayed since "+clock) {
		t.Errorf("/api/v1/status: monitoring %+v, description %q; want delayed since %s", v1.Monitoring, v1.Status.Description, since)
	}
	for _, c := range v1.Components {
		if !c.Stale {
			t.Errorf("/api/v1/status: component %s is not stale while commits fail", c.ID)
		}
	}
	var v2 struct {
		Status struct {
			Indicator   status.Impact
			Description string
		}
		Components []struct {
			ID           string
			OutpostStale bool `json:"outpost_stale"`
		}
	}
	if err := json.Unmarshal([]byte(fetch(t, h, "/api/v2/summary.json")), &v2); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains([]status.Impact{status.ImpactNone, status.ImpactMinor, status.ImpactMajor, status.ImpactCritical}, v2.Status.Indicator) ||
		!strings.Contains(v2.Status.Description, "Monitoring delayed since "+clock) {
		t.Errorf("/api/v2/summary.json status %+v; want a valid indicator and a delayed description", v2.Status)
	}
	if len(v2.Components) == 0 {
		t.Error("/api/v2/summary.json has no components")
	}
	for _, c := range v2.Components {
		if !c.OutpostStale {
			t.Errorf("/api/v2/summary.json: component %s is not outpost_stale while commits fail", c.ID)
		}
	}
}

// assertNotDelayed checks the notice and the grey are gone from the three
// public surfaces.
func assertNotDelayed(t *testing.T, h http.Handler) {
	t.Helper()
	if page := fetch(t, h, "/"); strings.Contains(page, "Monitoring delayed") || strings.Contains(page, "No recent data") {
		t.Error("the page still says monitoring is delayed after a commit worked")
	}
	if v1 := fetch(t, h, "/api/v1/status"); !strings.Contains(v1, `"delayed": false`) || strings.Contains(v1, `"stale": true`) {
		t.Errorf("/api/v1/status still delayed after a commit worked:\n%s", v1)
	}
	if v2 := fetch(t, h, "/api/v2/summary.json"); strings.Contains(v2, "Monitoring delayed") || strings.Contains(v2, `"outpost_stale":true`) {
		t.Errorf("/api/v2/summary.json still delayed after a commit worked:\n%s", v2)
	}
}

// A burst far beyond any channel's depth is never dropped: probes do not
// block, and the next step takes everything waiting. Results that waited
// longer than a check period make the page say monitoring is delayed.
func TestOverloadDropsNothingAndSaysDelayed(t *testing.T) {
	m, srv, st, clk := setup(t)
	const n = 20_000
	old := clk.now.Add(-2 * time.Minute) // produced two minutes ago: the engine is behind
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 8 {
				check := "api-1"
				if i%2 == 1 {
					check = "db-1"
				}
				m.sink(probes.Report{Check: check, Finished: old.Add(time.Duration(i) * time.Microsecond), Result: probes.Result{Outcome: probes.Up}})
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("probes blocked handing over their results")
	}
	var pending []status.CheckResult
	var window <-chan time.Time
	// The next steps take everything waiting, in entries of at most
	// maxEntryResults, one after another.
	for range n/maxEntryResults + 1 {
		if err := m.flush(&pending, &window, newBackoff(), nil); err != nil {
			t.Fatal(err)
		}
		if len(pending) == 0 {
			break
		}
	}
	stored := 0
	for _, c := range []string{"api-1", "db-1"} {
		rs, err := st.Results(c, old.Add(-time.Second), clk.now, n)
		if err != nil {
			t.Fatal(err)
		}
		stored += len(rs)
	}
	if stored != n {
		t.Fatalf("%d of %d results committed", stored, n)
	}
	page := fetch(t, srv.Handler(), "/")
	if !strings.Contains(page, "Monitoring delayed since 13:58 UTC") {
		t.Errorf("a backlogged engine does not say monitoring is delayed")
	}
	if api := fetch(t, srv.Handler(), "/api/v1/status"); !strings.Contains(api, `"delayed": true`) {
		t.Errorf("/api/v1/status does not say delayed:\n%s", api)
	}
	// Caught up: fresh results clear it.
	if _, err := m.step(status.Batch{Now: clk.now}); err != nil {
		t.Fatal(err)
	}
	m.sink(probes.Report{Check: "api-1", Finished: clk.now, Result: probes.Result{Outcome: probes.Up}})
	pending, window = nil, nil
	if err := m.flush(&pending, &window, newBackoff(), nil); err != nil {
		t.Fatal(err)
	}
	if page := fetch(t, srv.Handler(), "/"); strings.Contains(page, "Monitoring delayed") {
		t.Error("the delay outlived the backlog")
	}
}
