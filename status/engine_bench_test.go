package status

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
)

// BenchmarkStep is one engine step at 5,000 components with one check
// each, eight results a step (5,000 checks at 30 s in 50 ms steps), all
// up: the steady state. The full-pass baseline recomputes every component
// in every step, as the engine did before steps became incremental.
//
//	go test ./status -run '^$' -bench Step -benchmem
func BenchmarkStep(b *testing.B) {
	for _, full := range []bool{false, true} {
		name := "incremental"
		if full {
			name = "full-pass"
		}
		b.Run(name, func(b *testing.B) {
			m := &Model{SiteTitle: "Scale", AutoIncidents: true, ReopenWindow: time.Minute}
			for i := range 5000 {
				id := fmt.Sprintf("c%d", i)
				m.Components = append(m.Components, ComponentDef{ID: id, Name: id})
				m.Checks = append(m.Checks, CheckDef{Name: id + "-1", Component: id, FailureThreshold: 3, SuccessThreshold: 1, Every: 30 * time.Second})
			}
			e := NewEngine(m, nil)
			now := t0
			step := func(i int) {
				now = now.Add(50 * time.Millisecond)
				rs := make([]CheckResult, 8)
				for j := range rs {
					rs[j] = CheckResult{Check: fmt.Sprintf("c%d-1", (i*8+j)%5000), At: now, Result: probes.Result{Outcome: probes.Up}}
				}
				e.rescan = e.rescan || full
				e.Apply(Batch{Now: now, Results: rs})
			}
			for i := range 1000 { // every check up once
				step(i)
			}
			b.ResetTimer()
			for i := range b.N {
				step(i)
			}
		})
	}
}

// BenchmarkSnapshotLocations is the snapshot a member of a three-location
// cluster publishes after the entries it applies, every check up from
// every location: 3,000 components with one check each, and the soak's
// shape (cmd/outpost BenchmarkClusterSoak: 3,000 checks in 50 components);
// single= is the same soak shape on a single node, the figure a member's
// is compared with.
//
//	go test ./status -run '^$' -bench SnapshotLocations -benchmem
func BenchmarkSnapshotLocations(b *testing.B) {
	three := []string{"eu-west", "us-east", "ap-southeast"}
	for _, c := range []struct {
		name       string
		components int
		locs       []string
	}{{"components=3000", 3000, three}, {"soak", 50, three}, {"soak-single", 50, nil}} {
		b.Run(c.name, func(b *testing.B) { benchSnapshot(b, c.components, c.locs) })
	}
}

// benchSnapshot builds snapshots of snapshotEngine's engine.
func benchSnapshot(b *testing.B, components int, locs []string) {
	e, now := snapshotEngine(b, components, locs)
	b.ResetTimer()
	for range b.N {
		e.Snapshot(now, t0)
	}
}

// snapshotEngine is an engine of 3,000 checks spread over components,
// each up from every location (one run with no location on a single
// node), and the time its snapshots are taken at.
func snapshotEngine(tb testing.TB, components int, locs []string) (*Engine, time.Time) {
	m := &Model{SiteTitle: "Scale", AutoIncidents: true, ReopenWindow: time.Minute, Locations: locs}
	for i := range components {
		id := fmt.Sprintf("c%d", i)
		m.Components = append(m.Components, ComponentDef{ID: id, Name: id})
	}
	for i := range 3000 {
		m.Checks = append(m.Checks, CheckDef{Name: fmt.Sprintf("check-%05d", i), Component: fmt.Sprintf("c%d", i%components), FailureThreshold: 3, SuccessThreshold: 1, Every: 30 * time.Second})
	}
	e := NewEngine(m, nil)
	now := t0
	for _, loc := range append(slices.Clone(locs), "")[:max(len(locs), 1)] {
		rs := make([]CheckResult, 0, 3000)
		for i := range 3000 {
			rs = append(rs, CheckResult{Check: fmt.Sprintf("check-%05d", i), At: now, Location: loc, Result: probes.Result{Outcome: probes.Up, Latency: time.Millisecond}})
		}
		now = now.Add(time.Second)
		e.Apply(Batch{Now: now, Results: rs})
	}
	if s := e.Snapshot(now, t0); len(s.Components[0].Locations) != len(locs) {
		tb.Fatalf("a component seen from %d locations, want %d", len(s.Components[0].Locations), len(locs))
	}
	return e, now
}
