package web

import (
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
)

// bigSnapshot has 200 components in 20 groups, each with 90 days of bars
// and a 24-hour sparkline, 3 open incidents and 20 in the history.
func bigSnapshot() *status.Snapshot { return sizedSnapshot(20, 10) }

// sizedSnapshot is bigSnapshot with groups × perGroup components.
func sizedSnapshot(groups, perGroup int) *status.Snapshot {
	s := &status.Snapshot{GeneratedAt: t0, LastResultAt: t0, Indicator: status.ImpactMajor, Description: "Partial System Outage",
		Uptime: map[string]status.UptimeView{}}
	for g := range groups {
		gv := status.GroupView{ID: fmt.Sprintf("group-%d", g), Name: fmt.Sprintf("Group %d", g), Status: status.Operational}
		for c := range perGroup {
			cv := status.ComponentView{ID: fmt.Sprintf("c-%d-%d", g, c), Name: fmt.Sprintf("Component %d.%d", g, c),
				Group: gv.Name, Status: status.Operational, LastChecked: t0}
			gv.Components = append(gv.Components, cv)
			s.Components = append(s.Components, cv)
			var u status.UptimeView
			for d := range 90 {
				u.Days = append(u.Days, status.DayView{Date: t0.AddDate(0, 0, d-89), Status: status.Operational, Percent: 0.9995, Incidents: d % 30 / 29})
			}
			for h := range 24 {
				u.Latency = append(u.Latency, float64(30+h))
			}
			u.Percent = 0.9995
			s.Uptime[cv.ID] = u
		}
		s.Groups = append(s.Groups, gv)
	}
	inc := func(i int, open bool) *status.Incident {
		x := &status.Incident{ID: fmt.Sprintf("inc-%d", i), Seq: uint64(i), Name: fmt.Sprintf("Component %d.0 is unavailable", i%groups),
			Status: status.Investigating, Impact: status.ImpactMajor, Components: []string{fmt.Sprintf("c-%d-0", i%groups)},
			StartedAt: t0.Add(-time.Duration(i) * time.Hour), CreatedAt: t0.Add(-time.Duration(i) * time.Hour), UpdatedAt: t0}
		x.Updates = []status.Update{{ID: fmt.Sprintf("upd-%d", i), Status: status.Investigating, Body: "We are investigating connection failures.", DisplayAt: x.StartedAt}}
		if !open {
			x.Status, x.ResolvedAt = status.Resolved, x.StartedAt.Add(20*time.Minute)
			x.Updates = append(x.Updates, status.Update{ID: fmt.Sprintf("upd-%d-r", i), Status: status.Resolved, Body: "Resolved.", DisplayAt: x.ResolvedAt})
		}
		return x
	}
	for i := range 3 {
		s.Incidents = append(s.Incidents, inc(i+1, true))
	}
	for i := range 20 {
		s.History = append(s.History, inc(i+10, false))
	}
	return s
}

// BenchmarkRenderAll measures rendering every prepared response (pages,
// JSON, incident pages; gzip and ETag included) after a state change.
//
//	go test ./status/web -run '^$' -bench RenderAll -benchmem
func BenchmarkRenderAll(b *testing.B) {
	st, err := store.Open(filepath.Join(b.TempDir(), "b.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s, err := New(Options{Site: config.Site{Title: "Bench", TimeZone: "UTC", Location: time.UTC}, Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	snap := bigSnapshot()
	if err := s.Update(snap); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		// A state change, in a new snapshot as the monitor publishes: one
		// component changes status, and with it today's cell of its bar.
		next := *snap
		g, k := i%20, i%10
		st := []status.ComponentStatus{status.MajorOutage, status.Operational}[i%2]
		next.Components = slices.Clone(snap.Components)
		next.Components[g*10+k].Status = st
		next.Groups = slices.Clone(snap.Groups)
		next.Groups[g].Components = slices.Clone(snap.Groups[g].Components)
		next.Groups[g].Components[k].Status = st
		id := next.Components[g*10+k].ID
		next.Uptime = maps.Clone(snap.Uptime)
		u := next.Uptime[id]
		u.Days = slices.Clone(u.Days)
		u.Days[89].Status, u.Days[89].Percent = st, 0.99-float64(i%100)/1000
		next.Uptime[id] = u
		next.GeneratedAt = snap.GeneratedAt.Add(time.Second)
		snap = &next
		if err := s.Update(snap); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cur := s.current.Load().route("/")
	b.ReportMetric(float64(len(cur.Body))/1024, "page-KiB")
	b.ReportMetric(float64(len(cur.Gzip))/1024, "page-gz-KiB")
}
