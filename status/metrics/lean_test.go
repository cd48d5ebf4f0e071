package metrics

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/outpost-status/outpost/status"
)

// outpost_component_status is five numbers a component, made at scrape
// from the statuses last observed: 25,000 stored gauges at 5,000
// components held about 13 MB. The exposition is the same.
func TestComponentStatusHoldsNoSeries(t *testing.T) {
	m := New(Options{Version: "test"})
	statuses := []status.ComponentStatus{status.Operational, status.MajorOutage, status.UnderMaintenance}
	snap := &status.Snapshot{}
	for i := range 5000 {
		snap.Components = append(snap.Components, status.ComponentView{ID: fmt.Sprintf("component-%04d", i), Status: statuses[i%3], NoData: i == 7})
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m.ObserveSnapshot(snap)
	runtime.GC()
	runtime.ReadMemStats(&after)
	if held := int64(after.HeapAlloc) - int64(before.HeapAlloc); !raceOn && held > 2<<20 {
		t.Errorf("component statuses of 5,000 components hold %.1f MiB", float64(held)/(1<<20))
	}
	if n := testutil.CollectAndCount(m.Registry, "outpost_component_status"); n != 5*5000 {
		t.Errorf("%d series of outpost_component_status, want 25000", n)
	}
	want := `# HELP outpost_component_status 1 for each component's current status, 0 for the others.
# TYPE outpost_component_status gauge
outpost_component_status{component="component-0001",status="degraded_performance"} 0
outpost_component_status{component="component-0001",status="major_outage"} 1
outpost_component_status{component="component-0001",status="operational"} 0
outpost_component_status{component="component-0001",status="partial_outage"} 0
outpost_component_status{component="component-0001",status="under_maintenance"} 0
outpost_component_status{component="component-0007",status="degraded_performance"} 0
outpost_component_status{component="component-0007",status="major_outage"} 0
outpost_component_status{component="component-0007",status="operational"} 0
outpost_component_status{component="component-0007",status="partial_outage"} 0
outpost_component_status{component="component-0007",status="under_maintenance"} 0
`
	two := New(Options{Version: "test"})
	two.ObserveSnapshot(&status.Snapshot{Components: []status.ComponentView{snap.Components[1], snap.Components[7]}})
	if err := testutil.GatherAndCompare(two.Registry, strings.NewReader(want), "outpost_component_status"); err != nil {
		t.Error(err)
	}
	// A status change moves the numbers at the next scrape.
	moved := snap.Components[1]
	moved.Status = status.Operational
	two.ObserveSnapshot(&status.Snapshot{Components: []status.ComponentView{moved, snap.Components[7]}})
	want = strings.Replace(strings.Replace(want, `status="major_outage"} 1`, `status="major_outage"} 0`, 1), `component="component-0001",status="operational"} 0`, `component="component-0001",status="operational"} 1`, 1)
	if err := testutil.GatherAndCompare(two.Registry, strings.NewReader(want), "outpost_component_status"); err != nil {
		t.Error(err)
	}
	runtime.KeepAlive(snap)
}
