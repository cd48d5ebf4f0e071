package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
)

// A status change of one component among 1,000 re-renders only that
// component's surfaces (its block and its status badge) and the page-wide
// ones; a snapshot that changes nothing rebuilds nothing per component and
// compresses nothing again.
func TestRendersOnlyWhatChanged(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "r.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := &status.Model{AutoIncidents: true, ReopenWindow: time.Minute}
	var results []status.CheckResult
	for i := range 1000 {
		id := fmt.Sprintf("c%d", i)
		m.Components = append(m.Components, status.ComponentDef{ID: id, Name: "Component " + id, Group: fmt.Sprintf("G%d", i/100)})
		m.Checks = append(m.Checks, status.CheckDef{Name: "k" + id, Component: id, FailureThreshold: 1, SuccessThreshold: 1, Every: 30 * time.Second})
		results = append(results, status.CheckResult{Check: "k" + id, At: t0, Result: probes.Result{Outcome: probes.Up}})
	}
	e := status.NewEngine(m, nil)
	e.Apply(status.Batch{Now: t0, Results: results})
	s, err := New(Options{Site: config.Site{Title: "Big", URL: "https://big.test", TimeZone: "UTC", Location: time.UTC}, SiteID: "big",
		Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(e.Snapshot(t0, t0)); err != nil {
		t.Fatal(err)
	}
	counts := func() (blocks, builds uint64) { return s.r.blockRenders.Load(), s.prep.builds.Load() }
	b0, p0 := counts()
	// Every block; a status badge per component, the uptime badges (shared
	// by every component showing the same window and figure: 4 here) and
	// the page-wide responses.
	if b0 != 1000 || p0 < 1000+4+14 {
		t.Fatalf("first render: %d blocks, %d responses", b0, p0)
	}

	// Nothing visible changes (freshness only).
	now := t0.Add(10 * time.Second)
	e.Apply(status.Batch{Now: now, Results: []status.CheckResult{{Check: "kc1", At: now, Result: probes.Result{Outcome: probes.Up}}}})
	if err := s.Update(e.Snapshot(now, t0)); err != nil {
		t.Fatal(err)
	}
	b1, p1 := counts()
	if b1-b0 != 0 || p1-p0 > 3 { // the page and /api/v1/status carry "last checked"
		t.Fatalf("a freshness-only snapshot rebuilt %d blocks and %d responses", b1-b0, p1-p0)
	}

	// One component goes down.
	now = now.Add(10 * time.Second)
	e.Apply(status.Batch{Now: now, Results: []status.CheckResult{{Check: "kc500", At: now, Result: probes.Result{Outcome: probes.Down}}}})
	if err := s.Update(e.Snapshot(now, t0)); err != nil {
		t.Fatal(err)
	}
	b2, p2 := counts()
	if b2-b1 != 1 {
		t.Fatalf("one status change re-rendered %d component blocks, want 1", b2-b1)
	}
	// Its status badge, its group's badge, the incident's page, and the
	// page-wide responses (page, /api/v1/status, 8 Statuspage bodies,
	// 5 feeds, calendar).
	if d := p2 - p1; d > 1+1+1+16 {
		t.Fatalf("one status change rebuilt %d responses, want at most 19", d)
	}
}

// A render that only moves freshness reuses the read surfaces (Statuspage
// API, feeds, calendar, badges), which are exactly what a full render of
// that snapshot makes, and the page (whose "last checked" may lag up to
// pageMaxAge); a re-timed window is rendered again at once, the page at
// least every pageMaxAge, and everything every surfacesMaxAge.
func TestFreshnessOnlyRendersReuseTheReadSurfaces(t *testing.T) {
	s, snap := testServer(t)
	moved := func(from *status.Snapshot, d time.Duration) *status.Snapshot {
		c := *from
		c.GeneratedAt, c.LastResultAt = from.GeneratedAt.Add(d), from.LastResultAt.Add(d)
		c.Components = slices.Clone(from.Components)
		for i := range c.Components {
			c.Components[i].LastChecked = c.Components[i].LastChecked.Add(d)
		}
		return &c
	}
	before := maps.Collect(s.current.Load().all())
	fresh := moved(snap, 5*time.Second)
	if err := s.Update(fresh); err != nil {
		t.Fatal(err)
	}
	after := maps.Collect(s.current.Load().all())
	full, _ := testServer(t)
	if err := full.Update(fresh); err != nil {
		t.Fatal(err)
	}
	want := maps.Collect(full.current.Load().all())
	if len(after) != len(want) || len(after) < 20 {
		t.Fatalf("%d routes after a reusing render, %d after a full one", len(after), len(want))
	}
	if !s.surfacesAt.Equal(snap.GeneratedAt) {
		t.Error("the read surfaces were rendered again for a freshness-only change")
	}
	for k, p := range after {
		if k != "/api/v1/status" && p != before[k] {
			t.Errorf("%s is not the response served before", k)
		}
		if w := want[k]; k != "/" && (w == nil || !bytes.Equal(p.Body, w.Body)) {
			t.Errorf("%s differs from a full render of the same snapshot", k)
		}
	}
	if after["/api/v1/status"] == before["/api/v1/status"] {
		t.Error("/api/v1/status kept the old freshness")
	}

	// A reload re-times the configured window: same number of windows.
	retimed := moved(fresh, time.Second)
	retimed.Upcoming = slices.Clone(fresh.Upcoming)
	retimed.Upcoming[0].Start = retimed.Upcoming[0].Start.Add(time.Hour)
	if err := s.Update(retimed); err != nil {
		t.Fatal(err)
	}
	if up := s.current.Load().route("/api/v2/scheduled-maintenances/upcoming.json"); up == after["/api/v2/scheduled-maintenances/upcoming.json"] ||
		!strings.Contains(string(up.Body), retimed.Upcoming[0].Start.Format("2006-01-02T15:04:05.000Z07:00")) {
		t.Errorf("the re-timed window is not in the Statuspage API: %s", up.Body)
	}

	// At least every pageMaxAge, the page says when the last check was.
	paged := moved(retimed, pageMaxAge)
	if err := s.Update(paged); err != nil {
		t.Fatal(err)
	}
	if page := string(s.current.Load().route("/").Body); !strings.Contains(page, paged.LastResultAt.UTC().Format(time.RFC3339)) {
		t.Errorf("after pageMaxAge the page still shows an older last check than %s", paged.LastResultAt)
	}

	// At least every surfacesMaxAge, everything is rendered again.
	late := moved(paged, surfacesMaxAge)
	if err := s.Update(late); err != nil {
		t.Fatal(err)
	}
	if !s.surfacesAt.Equal(late.GeneratedAt) {
		t.Error("the read surfaces were reused past surfacesMaxAge")
	}
}

// /api/v1/status marshals a component's object again only when it
// changed, and the body is the same as marshalling everything.
func TestAPIStatusMarshalsOnlyChangedComponents(t *testing.T) {
	s, snap := testServer(t)
	first, err := s.apiStatusJSON(snap)
	if err != nil {
		t.Fatal(err)
	}
	built := s.apiFrags.built
	next := *snap
	next.Components = slices.Clone(snap.Components)
	next.Components[1].LastChecked = next.Components[1].LastChecked.Add(time.Second)
	second, err := s.apiStatusJSON(&next)
	if err != nil {
		t.Fatal(err)
	}
	if d := s.apiFrags.built - built; d != 1 {
		t.Errorf("one changed component marshalled %d objects", d)
	}
	// Exactly as json.MarshalIndent writes the whole: indenting it again
	// changes nothing, and every component is there.
	var compact, again bytes.Buffer
	if err := json.Compact(&compact, second); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, second)
	}
	json.Indent(&again, compact.Bytes(), "", "  ")
	var got struct {
		Components []struct {
			ID          string    `json:"id"`
			LastChecked time.Time `json:"last_checked_at"`
		} `json:"components"`
	}
	json.Unmarshal(second, &got)
	if !bytes.Equal(again.Bytes(), second) || bytes.Equal(first, second) || len(got.Components) != len(next.Components) ||
		!got.Components[1].LastChecked.Equal(next.Components[1].LastChecked) {
		t.Errorf("the spliced body is not what MarshalIndent writes:\n%s", second)
	}
}

// A component whose dependency is down says so on the page and in
// /api/v1/status, and the block is rendered again when that changes.
func TestAffectedByIsShown(t *testing.T) {
	s, snap := testServer(t)
	next := *snap
	next.Components = slices.Clone(snap.Components)
	next.Groups = slices.Clone(snap.Groups)
	next.Groups[0].Components = slices.Clone(snap.Groups[0].Components)
	next.Components[0].AffectedBy, next.Groups[0].Components[0].AffectedBy = "Database", "Database"
	if err := s.Update(&next); err != nil {
		t.Fatal(err)
	}
	page := string(s.current.Load().route("/").Body)
	api := string(s.current.Load().route("/api/v1/status").Body)
	if !strings.Contains(page, "Major outage · affected by Database") || !strings.Contains(api, `"affected_by": "Database"`) {
		t.Errorf("page or API lacks the dependency:\n%.2000s", api)
	}
}
