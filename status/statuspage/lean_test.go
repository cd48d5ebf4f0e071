package statuspage

import (
	"fmt"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/outpost-status/outpost/status"
)

// The Statuspage view of a snapshot is built at every render of the read
// surfaces: its list and its index are made at their size, not grown by
// doubling (about 2.5 times what they keep, 5,000 components a render).
func TestViewAllocatesAboutWhatItKeeps(t *testing.T) {
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	snap := &status.Snapshot{GeneratedAt: at}
	for i := range 2000 {
		snap.Components = append(snap.Components, status.ComponentView{ID: fmt.Sprintf("c%d", i), Name: "C", Status: status.Operational, Since: at, CreatedAt: at})
	}
	site := Site{ID: "p", Name: "P", URL: "https://p.test", TimeZone: "UTC", Location: time.UTC}
	New(site, snap)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	v := New(site, snap)
	runtime.ReadMemStats(&after)
	per := int(unsafe.Sizeof(Component{}))
	alloc := int(after.TotalAlloc - before.TotalAlloc)
	// The list, the index by id (key and value), and the components' time
	// stamps (two strings of 24 bytes each).
	if kept := len(v.list) * (2*per + 16 + 2*32); !raceOn && alloc > kept*3/2 {
		t.Errorf("the view of %d components allocated %d bytes for about %d kept (%.1f×)", len(v.list), alloc, kept, float64(alloc)/float64(kept))
	}
}

// The page's overview and the feeds are built at every render; with no
// incident they name no component, so they build no map of every
// component's name (5,000 entries a render at 5,000 components), and with
// one they name only its components.
func TestOverviewNamesOnlyWhatIncidentsName(t *testing.T) {
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	site := Site{ID: "p", Name: "P", URL: "https://p.test", TimeZone: "UTC", Location: time.UTC}
	quiet := &status.Snapshot{GeneratedAt: at}
	for i := range 5000 {
		quiet.Components = append(quiet.Components, status.ComponentView{ID: fmt.Sprintf("c%d", i), Name: fmt.Sprintf("Component %d", i)})
	}
	inc := &status.Incident{ID: "i1", Name: "Down", Status: status.Investigating, Impact: status.ImpactMajor,
		Components: []string{"c7"}, CreatedAt: at, UpdatedAt: at, StartedAt: at}
	busy := *quiet
	busy.Incidents, busy.Recent = []*status.Incident{inc}, []*status.Incident{inc}
	for _, tc := range []struct {
		name string
		snap *status.Snapshot
	}{{"no incident", quiet}, {"one incident", &busy}} {
		t.Run(tc.name, func(t *testing.T) {
			NewOverview(site, tc.snap)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			v := NewOverview(site, tc.snap)
			FeedEntries(site, tc.snap)
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; !raceOn && alloc > 64<<10 {
				t.Errorf("the overview and feed entries of %d components allocated %d bytes", len(tc.snap.Components), alloc)
			}
			if tc.snap == &busy && (len(v.Incidents) != 1 || v.Incidents[0].Affected != "Component 7") {
				t.Errorf("the incident's view names %+v, want Component 7", v.Incidents)
			}
		})
	}
}

// The view's index by id points into its list: a copy of each component
// in the index doubled the view (about 2.5 MB a render at 5,000
// components, alive while the read surfaces are built).
func TestViewIndexHoldsNoCopies(t *testing.T) {
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	snap := &status.Snapshot{GeneratedAt: at}
	for i := range 5000 {
		snap.Components = append(snap.Components, status.ComponentView{ID: fmt.Sprintf("c%d", i), Name: "C", Status: status.Operational, Since: at, CreatedAt: at,
			Group: fmt.Sprintf("G%d", i/10), GroupID: fmt.Sprintf("g%d", i/10)})
		if i%10 == 0 {
			snap.Groups = append(snap.Groups, status.GroupView{ID: fmt.Sprintf("g%d", i/10), Name: fmt.Sprintf("G%d", i/10), Status: status.Operational})
		}
	}
	site := Site{ID: "p", Name: "P", URL: "https://p.test", TimeZone: "UTC", Location: time.UTC}
	New(site, snap)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	v := New(site, snap)
	runtime.ReadMemStats(&after)
	alloc := int(after.TotalAlloc - before.TotalAlloc)
	t.Logf("the view of %d components allocated %d bytes", len(v.list), alloc)
	// The list, two time stamps and a group id each, and an index entry
	// (a key and an int, with the map's own overhead).
	if kept := len(v.list) * (int(unsafe.Sizeof(Component{})) + 2*32 + 16 + 48); !raceOn && alloc > kept*5/4 {
		t.Errorf("the view of %d components allocated %d bytes for about %d kept (%.1f×)", len(v.list), alloc, kept, float64(alloc)/float64(kept))
	}
	inc := &status.Incident{ID: "i1", Name: "Down", Status: status.Investigating, Components: []string{"c7", "g3"}, CreatedAt: at, UpdatedAt: at}
	if got := v.Incident(inc).Components; len(got) != 2 || got[0].ID != "c7" || got[1].ID != "g3" || !got[1].Group || len(got[1].Components) != 10 {
		t.Errorf("an incident's components from the index: %+v", got)
	}
}

// Whether two days read the same is decided without making their uptime
// texts: at every render of a changed component, 90 days made two strings
// each (2.7 MB when 1,000 components change). A run's text is still made.
func TestRowComparesDaysWithoutTexts(t *testing.T) {
	at := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	c := status.ComponentView{ID: "c", Name: "C", Status: status.Operational}
	u := status.UptimeView{Percent: 0.995}
	for i := range 90 {
		// 99.50 % as shown every day, from figures that differ.
		u.Days = append(u.Days, status.DayView{Date: at.AddDate(0, 0, i), Status: status.Operational, Percent: 0.995 + float64(i%3)*1e-6})
	}
	row := NewRow(c, u)
	if len(row.Runs) != 1 || row.Runs[0].Text != "99.50% uptime" || row.Runs[0].Last != 89 {
		t.Fatalf("runs: %+v", row.Runs)
	}
	u.Days[40].Percent = 0.9949 // 99.49 %: a run of its own
	if row := NewRow(c, u); len(row.Runs) != 3 || row.Runs[1].Text != "99.49% uptime" {
		t.Fatalf("runs: %+v", row.Runs)
	}
	allocs := testing.AllocsPerRun(20, func() { NewRow(c, u) })
	t.Logf("a row of 90 days in 3 runs: %.0f allocations", allocs)
	if !raceOn && allocs > 12 {
		t.Errorf("a row of 90 days in 3 runs made %.0f allocations", allocs)
	}
}
