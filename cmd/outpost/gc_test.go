package main

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The collector's default is Outpost's only while the operator has said
// nothing: GOGC or GOMEMLIMIT in the environment leaves the runtime as the
// operator set it, and whichever way it went, the start's log says so.
func TestGCDefaultOnlyWhenTheEnvironmentIsSilent(t *testing.T) {
	ours := "gogc=" + strconv.Itoa(defaultGCPercent)
	tests := []struct {
		name    string
		env     map[string]string
		want    int // the percent set, 0 for untouched
		logHas  string
		logLack string
	}{
		{"neither set", nil, defaultGCPercent, ours, "operator"},
		{"GOGC set", map[string]string{"GOGC": "100"}, 0, "GOGC", ours},
		{"GOGC off", map[string]string{"GOGC": "off"}, 0, "GOGC", ours},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "200MiB"}, 0, "GOMEMLIMIT", ours},
		// The runtime reads an empty GOGC as unset (100), and so do we.
		{"GOGC empty", map[string]string{"GOGC": ""}, defaultGCPercent, ours, "operator"},
		{"GOMEMLIMIT empty", map[string]string{"GOMEMLIMIT": ""}, defaultGCPercent, ours, "operator"},
	}
	// The pacer runs only with Outpost's default: an operator's GOGC is
	// theirs to keep.
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			set := 0
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			paced := applyGCDefault(log, lookup, func(p int) int { set = p; return 100 })
			if set != tc.want {
				t.Errorf("percent set = %d, want %d", set, tc.want)
			}
			if paced != (tc.want != 0) {
				t.Errorf("pacer allowed = %v with percent set %d", paced, set)
			}
			out := buf.String()
			if !strings.Contains(out, tc.logHas) || strings.Contains(out, tc.logLack) {
				t.Errorf("start log %q: want it to name %q and not %q", out, tc.logHas, tc.logLack)
			}
		})
	}
}

// The pacer raises the target while the collector's CPU stays over the
// line two ticks running, in proportion, within its bounds (re-read at
// every tick), and lowers it only after gcHold under half the line, by
// halves, never below the default.
func TestGCPacerStep(t *testing.T) {
	const mib = 1 << 20
	type tick struct {
		at    time.Duration // since the first sample
		load  float64       // the collector's CPU since the tick before, in cores
		sized uint64
		want  int
	}
	tests := []struct {
		name  string
		ticks []tick
	}{
		{"at rest stays at the default", []tick{{time.Second, 0.01, 12 * mib, 25}, {2 * time.Second, 0.03, 12 * mib, 25}, {3 * time.Second, 0.049, 12 * mib, 25}}},
		{"one busy second (a reload) is not a surge", []tick{{time.Second, 0.2, 12 * mib, 25}, {2 * time.Second, 0.01, 12 * mib, 25}, {3 * time.Second, 0.2, 12 * mib, 25}}},
		{"a surge raises it in proportion", []tick{{time.Second, 0.2, 12 * mib, 25}, {2 * time.Second, 0.2, 12 * mib, 100}, {3 * time.Second, 0.06, 12 * mib, 120}}},
		// The rate is the CPU over the time that passed, not over a tick.
		{"a late tick is not a surge", []tick{{time.Second, 0.2, 12 * mib, 25}, {3 * time.Second, 0.05, 12 * mib, 25}}},
		{"at most gcMaxPercent", []tick{{time.Second, 0.4, 12 * mib, 25}, {2 * time.Second, 0.4, 12 * mib, 200}, {3 * time.Second, 0.4, 12 * mib, 200}}},
		// 32 MiB above 40 MiB is 80 %.
		{"at most gcMaxHeadroom above what is live", []tick{{time.Second, 0.2, 40 * mib, 25}, {2 * time.Second, 0.2, 40 * mib, 80}}},
		{"lowered when the live heap grows past the headroom", []tick{{time.Second, 0.2, 12 * mib, 25}, {2 * time.Second, 0.2, 12 * mib, 100},
			{3 * time.Second, 0.04, 64 * mib, 50}}},
		{"never below the default when the heap is huge", []tick{{time.Second, 0.2, 1 << 30, 25}, {2 * time.Second, 0.2, 1 << 30, 25}}},
		{"held while the surge pauses", []tick{{time.Second, 0.2, 12 * mib, 25}, {2 * time.Second, 0.2, 12 * mib, 100}, {31 * time.Second, 0, 12 * mib, 100}}},
		{"then halved, down to the default", []tick{{time.Second, 0.2, 12 * mib, 25}, {2 * time.Second, 0.2, 12 * mib, 100},
			{32 * time.Second, 0.01, 12 * mib, 50}, {33 * time.Second, 0.01, 12 * mib, 25}, {34 * time.Second, 0, 12 * mib, 25}}},
		// Busy under the line (the raised target doing its work) holds it.
		{"busy under the line holds it", []tick{{time.Second, 0.2, 12 * mib, 25}, {2 * time.Second, 0.2, 12 * mib, 100},
			{25 * time.Second, 0.04, 12 * mib, 100}, {50 * time.Second, 0.04, 12 * mib, 100}, {79 * time.Second, 0.01, 12 * mib, 100}, {80 * time.Second, 0.01, 12 * mib, 50}}},
	}
	t0 := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &gcPacer{percent: defaultGCPercent}
			was := gcSample{at: t0}
			for i, tk := range tc.ticks {
				now := gcSample{at: t0.Add(tk.at), sized: tk.sized}
				// 0.1 s of collector in a late tick's 2 s is 0.05 of a core,
				// not 0.1.
				now.cpu = was.cpu + tk.load*now.at.Sub(was.at).Seconds()
				if got := p.step(was, now); got != tk.want {
					t.Fatalf("tick %d (%v, %.3f cores, %d MiB): percent %d, want %d", i, tk.at, tk.load, tk.sized/mib, got, tk.want)
				}
				was = now
			}
		})
	}
}

// The metrics the pacer reads are the runtime's, of the kinds it reads:
// a misspelt name would read as zero and the pacer would never move.
func TestGCMetricsAreTheRuntimes(t *testing.T) {
	kinds := map[string]metrics.ValueKind{}
	for _, d := range metrics.All() {
		kinds[d.Name] = d.Kind
	}
	for _, name := range gcMetrics() {
		want := metrics.KindUint64
		if strings.HasPrefix(name, "/cpu/") {
			want = metrics.KindFloat64
		}
		if k, ok := kinds[name]; !ok || k != want {
			t.Errorf("%s: kind %v (known %v), want %v", name, k, ok, want)
		}
	}
	if s := readGC(time.Now()); s.sized == 0 || s.cycles == 0 {
		t.Errorf("read %+v: want what is live and the collections so far", s)
	}
}

// paceGC reads the runtime's own account of the collector: with the
// collector busy over the line between two ticks and the next, it raises
// the target, and it sets the target only when the step changed it.
func TestPaceGCReadsTheRuntime(t *testing.T) {
	ticks := make(chan time.Time)
	var set []int
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := readGC(time.Now())
	go func() {
		defer close(done)
		paceGC(ctx, slog.New(slog.DiscardHandler), ticks, readGC, func(p int) int { set = append(set, p); return 0 })
	}()
	// Ticks 100 ms apart as the pacer sees them; between them the
	// collector runs until it has spent 20 ms (0.2 of a core, four times
	// the line), bounded in count.
	busy := func(from float64) float64 {
		for i := 0; i < 10000 && readGC(time.Now()).cpu-from < 0.02; i++ {
			runtime.GC()
		}
		return readGC(time.Now()).cpu
	}
	at := time.Now()
	cpu := busy(start.cpu)
	ticks <- at.Add(100 * time.Millisecond)
	busy(cpu)
	ticks <- at.Add(200 * time.Millisecond)
	cancel()
	<-done
	if len(set) == 0 || set[len(set)-1] <= defaultGCPercent {
		t.Fatalf("targets set %v, want a raise above %d after two ticks of a busy collector", set, defaultGCPercent)
	}
	for i := 1; i < len(set); i++ {
		if set[i] == set[i-1] {
			t.Errorf("targets set %v: %d set twice in a row", set, set[i])
		}
	}
}
