package status

import (
	"fmt"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// A snapshot holds each component twice (in page order and in its group):
// it is built in arrays of the right size, not grown by doubling. At 5,000
// components the appends allocated about 5 MB a snapshot for 2 MB kept,
// for every publish.
func TestSnapshotAllocatesAboutWhatItKeeps(t *testing.T) {
	m := &Model{SiteTitle: "Scale", AutoIncidents: true, ReopenWindow: time.Minute}
	for i := range 2000 {
		id := fmt.Sprintf("c%d", i)
		m.Components = append(m.Components, ComponentDef{ID: id, Name: id, Group: fmt.Sprintf("G%d", i/10)})
		m.Checks = append(m.Checks, CheckDef{Name: id + "-1", Component: id, FailureThreshold: 1, SuccessThreshold: 1, Every: 30 * time.Second})
	}
	e := NewEngine(m, nil)
	e.Snapshot(t0, t0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s := e.Snapshot(t0, t0)
	runtime.ReadMemStats(&after)
	kept := 2 * len(s.Components) * int(unsafe.Sizeof(ComponentView{}))
	if alloc := after.TotalAlloc - before.TotalAlloc; !raceOn && alloc > uint64(kept)*5/4 {
		t.Errorf("a snapshot of %d components keeping %d bytes of views allocated %d bytes (%.1f×)", len(s.Components), kept, alloc, float64(alloc)/float64(kept))
	}
	if len(s.Groups) != 200 || len(s.Groups[7].Components) != 10 || s.Groups[7].Components[3].ID != "c73" {
		t.Errorf("groups: %d, group 7 has %d components", len(s.Groups), len(s.Groups[7].Components))
	}
}
