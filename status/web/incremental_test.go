package web

import (
	"fmt"
	"log/slog"
	"path/filepath"
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
	if b0 != 1000 || p0 < 5000+14 { // every block; 5 badges per component and the page-wide responses
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
