package monitor

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
)

// A history refresh builds each component's 90 days in one scratch array
// and keeps a copy only of a history no other component has: at 5,000
// components every refresh (each minute, and on events) allocated about
// 80 MB of day cells that the interner then dropped as duplicates.
func TestHistoryRefreshAllocatesLittlePerComponent(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "h.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := &config.Config{}
	for i := range 2000 {
		id := fmt.Sprintf("c%d", i)
		cfg.Components = append(cfg.Components, config.Component{ID: id, Name: id})
		cfg.Checks = append(cfg.Checks, config.Check{Spec: probes.Spec{Name: id + "-1"}, Component: id})
	}
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	h := newHistory(st, slog.New(slog.DiscardHandler))
	state := status.NewState()
	if err := h.read(state, cfg, now); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := h.read(state, cfg, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 2000; !raceOn && per > 4<<10 {
		t.Errorf("a history refresh allocated %d bytes per component", per)
	}
	a, b := h.uptime["c1"].Days, h.uptime["c2"].Days
	if len(a) != BarDays || &a[0] != &b[0] || a[BarDays-1].Percent != -1 {
		t.Errorf("histories: %d days, shared %v", len(a), len(a) > 0 && len(b) > 0 && &a[0] == &b[0])
	}
}

// The monitor's map of each check's kind was made from a joined copy of
// the checks and canaries: 3.7 MB of config.Check at 5,000 checks, at
// every start and reload, to read two strings of each.
func TestCheckKindsCopiesNoCheck(t *testing.T) {
	cfg := &config.Config{Canaries: []config.Check{{Name: "canary", Spec: probes.Spec{Kind: "tcp"}}}}
	for i := range 5000 {
		cfg.Checks = append(cfg.Checks, config.Check{Name: fmt.Sprintf("check-%04d", i), Spec: probes.Spec{Kind: "http"}})
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	kinds := checkKinds(cfg)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; !raceOn && n > 1<<20 {
		t.Errorf("the kinds of 5,000 checks allocated %.1f MiB", float64(n)/(1<<20))
	}
	if len(kinds) != 5001 || kinds["canary"] != "tcp" || kinds["check-4999"] != "http" {
		t.Errorf("kinds: %d, canary %q, last %q", len(kinds), kinds["canary"], kinds["check-4999"])
	}
}

// The sparklines read each check's hours in a read transaction of its
// own: 5,000 transactions, each opening its buckets afresh, about 670
// bytes a check every minute. A component's checks are read in one.
func TestHistoryRefreshReadsAComponentsChecksAtOnce(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "h.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := &config.Config{}
	for i := range 50 {
		id := fmt.Sprintf("c%d", i)
		cfg.Components = append(cfg.Components, config.Component{ID: id, Name: id})
	}
	for i := range 5000 {
		cfg.Checks = append(cfg.Checks, config.Check{Name: fmt.Sprintf("check-%04d", i), Component: fmt.Sprintf("c%d", i%50)})
	}
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	h := newHistory(st, slog.New(slog.DiscardHandler))
	state := status.NewState()
	if err := h.read(state, cfg, now); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := h.read(state, cfg, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / 5000
	t.Logf("a history refresh of 5,000 checks in 50 components allocated %d bytes a check", per)
	if !raceOn && per > 250 {
		t.Errorf("a history refresh allocated %d bytes a check (limit 250)", per)
	}
}
