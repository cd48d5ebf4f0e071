package machine

import (
	"fmt"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// BenchmarkApply pushes result batches through the machine as the log
// carries them: inputs, the engine run inside apply, and a durable
// (fsync'd) commit, 500 results per entry over 10,000 checks. It is
// status/store's BenchmarkEngineAndStore (the engine stepped outside, its
// step written) with the engine moved inside apply; "encoded" goes through
// the codec as a replicated log's applier does.
//
//	go test ./status/machine -run '^$' -bench Apply -benchtime 400x
func BenchmarkApply(b *testing.B) {
	for _, encoded := range []bool{false, true} {
		b.Run(fmt.Sprintf("encoded=%v", encoded), func(b *testing.B) { benchApply(b, encoded, 10000, 500, false) })
	}
	// A monitor's entry: a second's results of 3,000 checks at 30 s. The
	// scheduler runs checks in name order (probes.spread), so an entry's
	// results are neighbours in the store; scattered is the same entry
	// over checks spread across the key space (a hash order).
	for _, scattered := range []bool{false, true} {
		b.Run(fmt.Sprintf("3000-checks/scattered=%v", scattered), func(b *testing.B) { benchApply(b, false, 3000, 100, scattered) })
	}
	// A member of a three-location cluster: each location's second of
	// results in turn, through the codec, so every check's state carries
	// the three locations' own (CheckState.Regions).
	b.Run("3000-checks/locations=3", func(b *testing.B) { benchApply(b, true, 3000, 100, false, "loc-0", "loc-1", "loc-2") })
}

func benchApply(b *testing.B, encoded bool, checks, perBatch int, scattered bool, locations ...string) {
	md := &status.Model{AutoIncidents: true, ReopenWindow: time.Minute, Locations: locations}
	for i := range checks / 10 {
		md.Components = append(md.Components, status.ComponentDef{ID: fmt.Sprintf("c%d", i), Name: fmt.Sprintf("C%d", i)})
	}
	for i := range checks {
		md.Checks = append(md.Checks, status.CheckDef{Name: fmt.Sprintf("check-%05d", i), Component: fmt.Sprintf("c%d", i/10),
			FailureThreshold: 3, SuccessThreshold: 2, RecheckInterval: 2 * time.Second, Every: 30 * time.Second})
	}
	st, err := store.Open(filepath.Join(b.TempDir(), "bench.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	m, err := New(Options{Store: st, Model: md})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	next := 0
	var index uint64
	apply := func() {
		var rs []status.CheckResult
		loc := ""
		if len(locations) > 0 { // each location runs every check: the clock moves once a round
			loc = locations[int(index)%len(locations)]
			if int(index)%len(locations) != 0 {
				next -= perBatch
				now = now.Add(-30 * time.Second * time.Duration(perBatch) / time.Duration(checks))
			}
		}
		for range perBatch {
			o := probes.Up
			if next%97 == 0 { // a sprinkle of failures keeps the engine honest
				o = probes.Down
			}
			i := next % checks
			if scattered { // 1237 is prime: a permutation
				i = (i * 1237) % checks
			}
			rs = append(rs, status.CheckResult{Check: md.Checks[i].Name, At: now, Location: loc,
				Result: probes.Result{Outcome: o, Reason: probes.ReasonOK, Latency: time.Duration(1000+next%5000) * time.Microsecond}})
			next++
			now = now.Add(30 * time.Second / time.Duration(checks)) // every check every 30 s
		}
		index++
		e := store.Entry{At: now, Index: index, Inputs: store.NewInputs(rs, nil, loc, loc)}
		if !encoded {
			if _, err := m.Apply(e); err != nil {
				b.Fatal(err)
			}
			return
		}
		data, err := store.EncodeEntry(e)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.ApplyEncoded(data, index, 0); err != nil {
			b.Fatal(err)
		}
	}
	for range max(1, len(locations)) * checks / perBatch { // warm up: every check has state and roll-up series
		apply()
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	cpu0 := cpuTime(b)
	start := time.Now()
	for range b.N {
		t := time.Now()
		apply()
		lat = append(lat, time.Since(t))
	}
	wall := time.Since(start)
	cpu := cpuTime(b) - cpu0
	b.StopTimer()
	if cs := m.engine.State().Checks[md.Checks[0].Name]; len(locations) > 0 && (cs == nil || len(cs.Regions) != len(locations)) {
		b.Fatalf("a check's state %+v, want the %d locations' own", cs, len(locations))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N*perBatch)/wall.Seconds(), "results/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "entry-p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "entry-p99-ms")
	// The process's CPU (user and system) per entry: what a member pays,
	// apart from waiting on the disk.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/entry")
}

// cpuTime is the CPU time the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
