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

// The pacer raises the target when the collector's CPU over a tick is
// over the line, in proportion, within its bounds (re-read at every tick),
// and lowers it only after gcHold under half the line, by halves, never
// below the default.
func TestGCPacerStep(t *testing.T) {
	const mib = 1 << 20
	const tk = gcTick
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
		{"at rest stays at the default", []tick{{tk, 0.01, 12 * mib, 25}, {2 * tk, 0.03, 12 * mib, 25}, {3 * tk, 0.05, 12 * mib, 25}}},
		// 130 ms of collector in a tick (a reload at 5,000 components)
		// is under the line.
		{"one busy second is not a surge", []tick{{tk, 0.13 / tk.Seconds(), 40 * mib, 25}, {2 * tk, 0.01, 40 * mib, 25}}},
		{"a surge raises it in proportion", []tick{{tk, 0.2, 12 * mib, 100}, {2 * tk, 0.06, 12 * mib, 120}, {3 * tk, 0.05, 12 * mib, 120}}},
		// The rate is the CPU over the time that passed, not over a tick:
		// 0.3 s of collector in two ticks' time is 0.05 of a core.
		{"a late tick is not a surge", []tick{{2 * tk, 0.05, 12 * mib, 25}}},
		{"at most gcMaxPercent", []tick{{tk, 0.4, 12 * mib, 200}, {2 * tk, 0.4, 12 * mib, 200}}},
		// 32 MiB above 40 MiB is 80 %.
		{"at most gcMaxHeadroom above what is live", []tick{{tk, 0.2, 40 * mib, 80}}},
		{"lowered when the live heap grows past the headroom", []tick{{tk, 0.2, 12 * mib, 100}, {2 * tk, 0.04, 64 * mib, 50}}},
		{"never below the default when the heap is huge", []tick{{tk, 0.2, 1 << 30, 25}}},
		{"held while the surge pauses", []tick{{tk, 0.2, 12 * mib, 100}, {tk + 29*time.Second, 0, 12 * mib, 100}}},
		{"then halved, down to the default", []tick{{tk, 0.2, 12 * mib, 100},
			{tk + 30*time.Second, 0.01, 12 * mib, 50}, {2*tk + 30*time.Second, 0.01, 12 * mib, 25}, {3*tk + 30*time.Second, 0, 12 * mib, 25}}},
		// Busy under the line (the raised target doing its work) holds it.
		{"busy under the line holds it", []tick{{tk, 0.2, 12 * mib, 100},
			{25 * time.Second, 0.04, 12 * mib, 100}, {50 * time.Second, 0.04, 12 * mib, 100}, {79 * time.Second, 0.01, 12 * mib, 100}, {80 * time.Second, 0.01, 12 * mib, 50}}},
	}
	t0 := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &gcPacer{percent: defaultGCPercent}
			was := gcSample{at: t0}
			for i, tk := range tc.ticks {
				now := gcSample{at: t0.Add(tk.at), sized: tk.sized}
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
	runtime.GC()
	if s := readGC(); s.sized == 0 || s.cycles == 0 || s.at.IsZero() {
		t.Errorf("read %+v after a collection: want what is live, the collections so far and the time", s)
	}
}

// paceGC reads the runtime's own account of the collector: a tick after
// the collector was busy over the line raises the target, a tick after
// it was idle sets nothing (the target is set only when a step changed
// it), and the next busy one raises it again.
func TestPaceGCReadsTheRuntime(t *testing.T) {
	ticks := make(chan time.Time)
	first := make(chan struct{})
	read := func() gcSample {
		select {
		case <-first:
		default:
			close(first) // paceGC's first sample, before the test makes the collector busy
		}
		return readGC()
	}
	var set []int
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		paceGC(ctx, slog.New(slog.DiscardHandler), ticks, read, func(p int) int { set = append(set, p); return 0 })
	}()
	<-first
	// The collector runs until it has spent 20 ms, at least 10 ms a
	// collection's wait: far over 5 % of a core whatever the time it took.
	// Bounded in count.
	busy := func() {
		from := readGC().cpu
		for i := 0; i < 10000 && readGC().cpu-from < 0.02; i++ {
			runtime.GC()
		}
	}
	busy()
	ticks <- time.Time{}
	ticks <- time.Time{} // nothing collected: held, nothing set
	busy()
	ticks <- time.Time{}
	cancel()
	<-done
	if len(set) != 2 || set[0] <= defaultGCPercent || set[1] <= set[0] {
		t.Fatalf("targets set %v, want two raises, each above the last, after two busy ticks around an idle one", set)
	}
}
