package metrics

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/outpost-status/outpost/probes"
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

// outpost_probe_runs_total and outpost_probe_last_duration_seconds are
// made at scrape from a few numbers a check: a client_golang series (its
// label pairs, its created timestamp, its place in the vector's map) held
// about a kilobyte, two or more of them a check. The exposition, the
// location label included, is the same.
func TestPerCheckRunsHoldNoSeries(t *testing.T) {
	m := New(Options{Version: "test"})
	names := make([]string, 5000)
	for i := range names {
		names[i] = fmt.Sprintf("check-%04d", i)
	}
	run := func(m *Metrics, check string, o probes.Outcome, d time.Duration) {
		m.ObserveRun("http", probes.Report{Check: check, Result: probes.Result{Outcome: o, Latency: d}})
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i, n := range names {
		run(m, n, probes.Up, time.Millisecond)
		if i%10 == 0 {
			run(m, n, probes.Down, time.Millisecond)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if held := int64(after.HeapAlloc) - int64(before.HeapAlloc); !raceOn && held > 1<<20 {
		t.Errorf("per-check run metrics of 5,000 checks hold %.1f MiB", float64(held)/(1<<20))
	}
	if n := testutil.CollectAndCount(m.Registry, "outpost_probe_runs_total"); n != 5500 {
		t.Errorf("%d series of outpost_probe_runs_total, want 5500", n)
	}
	two := New(Options{Version: "test", Location: "ams"})
	run(two, "api", probes.Up, 20*time.Millisecond)
	run(two, "api", probes.Up, 30*time.Millisecond)
	run(two, "web", probes.Degraded, 1500*time.Millisecond)
	run(two, "api", probes.Down, 250*time.Millisecond)
	want := `# HELP outpost_probe_last_duration_seconds Duration of each check's last run.
# TYPE outpost_probe_last_duration_seconds gauge
outpost_probe_last_duration_seconds{check="api",location="ams"} 0.25
outpost_probe_last_duration_seconds{check="web",location="ams"} 1.5
# HELP outpost_probe_runs_total Probe runs by check and outcome.
# TYPE outpost_probe_runs_total counter
outpost_probe_runs_total{check="api",location="ams",outcome="down"} 1
outpost_probe_runs_total{check="api",location="ams",outcome="up"} 2
outpost_probe_runs_total{check="web",location="ams",outcome="degraded"} 1
`
	if err := testutil.GatherAndCompare(two.Registry, strings.NewReader(want),
		"outpost_probe_runs_total", "outpost_probe_last_duration_seconds"); err != nil {
		t.Error(err)
	}
	runtime.KeepAlive(names)
}
