package main

import (
	"bytes"
	"context"
	"log/slog"
	"math"
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

// The pacer raises the target when the collector's CPU stays over the
// line for two ticks at the target in force, in proportion, within its
// bounds (re-read at every tick), and lowers it a hold after the last
// change, only as far as keeps the collector clear of the line, never
// below the default. A surge (a pair over gcSurge at the default) takes the
// caps at once and keeps them while it lasts.
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
		// A reload at 5,000 components: 130 ms of collector in its second,
		// 64 ms of a node at rest's in the tick's other two.
		{"a reload's busy second is not a surge", []tick{{tk, 0.017, 40 * mib, 25}, {2 * tk, 0.194 / tk.Seconds(), 40 * mib, 25},
			{3 * tk, 0.017, 40 * mib, 25}}},
		{"over the line raises it in proportion", []tick{{tk, 0.08, 12 * mib, 25}, {2 * tk, 0.08, 12 * mib, 40},
			// The tick that began before the raise does not count; two
			// after it do.
			{3 * tk, 0.06, 12 * mib, 40}, {4 * tk, 0.06, 12 * mib, 48}, {5 * tk, 0.05, 12 * mib, 48}}},
		// Over twice the line at the default is a surge: all the
		// headroom the caps allow, at once.
		{"a surge takes the caps at once", []tick{{tk, 0.11, 12 * mib, 25}, {2 * tk, 0.11, 12 * mib, 200}}},
		// 32 MiB above 40 MiB is 80 %.
		{"a surge at a large heap takes the headroom", []tick{{tk, 0.2, 40 * mib, 25}, {2 * tk, 0.2, 40 * mib, 80}}},
		// 0.07 of a core at 40 % is 0.112 at the default: a surge seen
		// after a first step (a loaded machine's contention).
		{"a surge seen after a step in proportion", []tick{{tk, 0.08, 12 * mib, 25}, {2 * tk, 0.08, 12 * mib, 40},
			{3 * tk, 0.07, 12 * mib, 40}, {4 * tk, 0.07, 12 * mib, 200}}},
		// A node at rest raised a little by its noise is not a surge:
		// 0.055 of a core at 30 % is 0.066 at the default.
		{"a small raise stays small", []tick{{tk, 0.06, 40 * mib, 25}, {2 * tk, 0.06, 40 * mib, 30},
			{3 * tk, 0.055, 40 * mib, 30}, {4 * tk, 0.055, 40 * mib, 33}}},
		// A surge keeps the caps past the hold while its collector, at
		// the default, would be a surge (0.015 of a core at 200 % is
		// 0.12 at 25), and comes down once it would not.
		{"a surge holds while it lasts", []tick{{tk, 0.15, 12 * mib, 25}, {2 * tk, 0.15, 12 * mib, 200},
			{2*tk + 30*time.Second, 0.015, 12 * mib, 200}, {2*tk + 60*time.Second, 0.015, 12 * mib, 200},
			{2*tk + 90*time.Second, 0.004, 12 * mib, 25}}},
		// A node at rest over the line after a surge comes down: 0.0075
		// of a core at 200 % is 0.06 at the default, no surge.
		{"a surge ends on the line it began on", []tick{{tk, 0.15, 12 * mib, 25}, {2 * tk, 0.15, 12 * mib, 200},
			{2*tk + 30*time.Second, 0.0075, 12 * mib, 38}}},
		// Lowered from a surge, the pacer is at rest again: a pair over
		// the line but under gcSurge is a step in proportion.
		{"after a surge, steps again", []tick{{tk, 0.15, 12 * mib, 25}, {2 * tk, 0.15, 12 * mib, 200},
			{2*tk + 30*time.Second, 0.001, 12 * mib, 25}, {2*tk + 33*time.Second, 0.06, 12 * mib, 25}, {2*tk + 36*time.Second, 0.06, 12 * mib, 30}}},
		// A live heap past the headroom brings a surge's target to the
		// default; a later step is lowered as a step.
		{"the caps at the default, then a step", []tick{{tk, 0.15, 12 * mib, 25}, {2 * tk, 0.15, 12 * mib, 200},
			{3 * tk, 0.01, 128 * mib, 25}, {4 * tk, 0.09, 12 * mib, 25}, {5 * tk, 0.09, 12 * mib, 45},
			{5*tk + 30*time.Second, 0.03, 12 * mib, 34}}},
		// The rate is the CPU over the time that passed: 0.27 s of
		// collector in a late tick's 6 s is 0.045 of a core, not 0.09.
		{"a late tick is not a surge", []tick{{tk, 0.2, 12 * mib, 25}, {3 * tk, 0.045, 12 * mib, 25}}},
		{"lowered when the live heap grows past the headroom", []tick{{tk, 0.08, 12 * mib, 25}, {2 * tk, 0.08, 12 * mib, 40},
			{3 * tk, 0.04, 128 * mib, 25}}},
		{"never below the default when the heap is huge", []tick{{tk, 0.2, 1 << 30, 25}, {2 * tk, 0.2, 1 << 30, 25}}},
		{"held a while after the raise", []tick{{tk, 0.08, 12 * mib, 25}, {2 * tk, 0.08, 12 * mib, 40}, {2*tk + 29*time.Second, 0, 12 * mib, 40}}},
		// 0.02 of a core at 80 % is 0.04 at 40: 0.8 of the line.
		{"then lowered, a hold apart, down to the default", []tick{{tk, 0.16, 40 * mib, 25}, {2 * tk, 0.16, 40 * mib, 80},
			{2*tk + 30*time.Second, 0.002, 40 * mib, 25}}},
		{"a step lowered a hold apart", []tick{{tk, 0.09, 12 * mib, 25}, {2 * tk, 0.09, 12 * mib, 45},
			{2*tk + 30*time.Second, 0.02, 12 * mib, 25}}},
		// A pair of ticks over the line raised it past what the load
		// needs: it comes back to where the CPU is 0.8 of the line, not
		// lower.
		{"lowered only as far as keeps clear of the line", []tick{{tk, 0.09, 12 * mib, 25}, {2 * tk, 0.09, 12 * mib, 45},
			{2*tk + 30*time.Second, 0.03, 12 * mib, 34}, {2*tk + 59*time.Second, 0.04, 12 * mib, 34}, {2*tk + 60*time.Second, 0.04, 12 * mib, 34}}},
		// One window over the line after one under is not a pair, even
		// when their mean is over it.
		{"two windows over the line, not their mean", []tick{{tk, 0.036, 40 * mib, 25}, {2 * tk, 0.065, 40 * mib, 25}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ticks := make([]pacerTick, len(tc.ticks))
			for i, tk := range tc.ticks {
				ticks[i] = pacerTick{at: tk.at, load: tk.load, sized: tk.sized, want: tk.want}
			}
			checkTicks(t, ticks)
		})
	}
}

// The collector's CPU is its share of the processors' busy time (the
// runtime's classes, wall time) applied to the process's CPU time from the
// kernel: on oversubscribed cores the classes run long, the share holds.
func TestCollectorCPU(t *testing.T) {
	tests := []struct {
		name           string
		gc, user, proc float64 // over the tick
		unknown        bool    // the kernel's CPU time is not known
		want           float64
	}{
		{"a quiet machine: the classes are the CPU", 0.1, 0.9, 1.0, false, 0.1},
		// Descheduled half the time: 2 s of wall time in the classes, 1 s of CPU.
		{"oversubscribed cores: the share of the kernel's CPU", 0.4, 1.6, 1.0, false, 0.2},
		{"no collection ended in the tick", 0, 0.9, 1.0, false, 0},
		{"the kernel does not say: the classes", 0.1, 0.9, 0, true, 0.1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			was := gcSample{gc: 3, user: 30, proc: 20}
			now := gcSample{gc: 3 + tc.gc, user: 30 + tc.user, proc: 20 + tc.proc}
			if tc.unknown {
				was.proc, now.proc = -1, -1
			}
			if got := collectorCPU(was, now); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("collector CPU %.3f s, want %.3f", got, tc.want)
			}
		})
	}
}

// A node at rest, 5,000 HTTP checks at 30 s in 5,000 components (41 MiB
// live): the collector's CPU in each 3 s from 9 s to 72 s after the start,
// from GODEBUG=gctrace=1 (marking on idle processors not counted). The
// first round of checks (21-30 s) costs the most; the pacer may answer it
// with a little headroom for a hold, and must be back at the default by
// the end.
func TestGCPacerAtRest(t *testing.T) {
	trace := []float64{1.4, 1.3, 1.6, 2.0, 3.7, 5.3, 6.4, 1.4, 0.4, 0.3, 1.3, 0.3, 0.7, 0.4, 0.8, 0.7, 0.2, 1.8, 0.3, 0.3, 0.2, 0.0}
	p := &gcPacer{percent: defaultGCPercent}
	t0 := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	was := gcSample{at: t0, sized: 41 << 20}
	top := 0
	for _, pct := range trace {
		cpu := was.gc + pct/100*gcTick.Seconds()
		now := gcSample{at: was.at.Add(gcTick), gc: cpu, proc: cpu, sized: 41 << 20}
		top = max(top, p.step(was, now))
		was = now
	}
	if top > 30 || p.percent != defaultGCPercent {
		t.Errorf("at rest: target up to %d, %d at the end; want at most 30 and back to %d", top, p.percent, defaultGCPercent)
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
	if s := readGC(); s.sized == 0 || s.cycles == 0 || s.at.IsZero() || s.gc <= 0 || s.user <= 0 || s.proc <= 0 {
		t.Errorf("read %+v after a collection: want what is live, the collections so far, the time and CPU in each class", s)
	}
}

// paceGC reads the runtime's own account of the collector: two ticks in
// which the collector was busy over the line raise the target, a tick
// after it was idle sets nothing (the target is set only when a step
// changed it), and two busy ones after that raise it again. The samples'
// times are a fake clock, a second a read, so the load each tick sees is
// the CPU the collector spent, whatever the machine's own pace.
func TestPaceGCReadsTheRuntime(t *testing.T) {
	ticks := make(chan time.Time)
	sampled := make(chan struct{}) // after each of paceGC's reads of the runtime
	var reads int
	var sized uint64 = 64 << 20 // caps at 50 %: the first raise, a surge or not, leaves room for a second
	t0 := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	read := func() gcSample {
		s := readGC()
		s.at = t0.Add(time.Duration(reads) * time.Second)
		// The runtime's classes alone: on oversubscribed cores (this
		// package's tests beside others') their share of the kernel's CPU
		// time read a tenth of what the loop spent (TestCollectorCPU has
		// that arithmetic).
		s.proc = -1
		s.sized = sized // the caps, whatever this test binary holds
		reads++
		sampled <- struct{}{}
		return s
	}
	var set []int
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		paceGC(ctx, slog.New(slog.DiscardHandler), ticks, read, func(p int) int { set = append(set, p); return 0 })
	}()
	<-sampled // the first sample, before the collector is made busy
	// The collector runs until it has spent secs of CPU, bounded in count.
	busy := func(secs float64) {
		from := readGC().gc
		for i := 0; i < 10000 && readGC().gc-from < secs; i++ {
			runtime.GC()
		}
	}
	tick := func() { ticks <- time.Time{}; <-sampled } // and its sample taken before anything else runs
	// On oversubscribed cores one collection's pauses, counted on every
	// processor, ran 0.13 s over what the loop asked for: the first raise
	// may be a step or a surge, and is capped at 50 % either way.
	busy(0.07) // 0.07 of a core over the tick's second
	tick()
	busy(0.07)
	tick()           // two ticks over the line: raised
	tick()           // idle: held, nothing set
	sized = 12 << 20 // caps at 200 %, as for a node at 50 components
	busy(0.15)
	tick() // 0.15 of a core: with the idle one before it, not a pair
	busy(0.15)
	tick() // a pair, a surge: raised again
	cancel()
	<-done
	if len(set) != 2 || set[0] <= defaultGCPercent || set[1] <= set[0] {
		t.Fatalf("targets set %v, want two raises, each above the last: two busy ticks, an idle one, two busy ones", set)
	}
}

// Over the line, collecting gcSurgeRate times a second is a surge even
// when the CPU read is not (a loaded machine gives the process less), and
// the caps hold while it collects that often.
func TestGCPacerSurgeByCollections(t *testing.T) {
	const mib = 1 << 20
	type tick struct {
		at         time.Duration
		load, rate float64 // cores, collections a second
		want       int
	}
	tests := []struct {
		name  string
		ticks []tick
	}{
		{"a node at rest over the line steps", []tick{{gcTick, 0.06, 3, 25}, {2 * gcTick, 0.06, 3, 30}}},
		{"collecting often over the line is a surge", []tick{{gcTick, 0.06, 40, 25}, {2 * gcTick, 0.06, 40, 200}}},
		{"often but under the line is not", []tick{{gcTick, 0.04, 40, 25}, {2 * gcTick, 0.04, 40, 25}}},
		// 0.003 of a core at 200 % is 0.024 at the default: the CPU read
		// alone would end it; 19 collections a second hold it.
		{"held while it collects often, then lowered", []tick{{gcTick, 0.06, 40, 25}, {2 * gcTick, 0.06, 40, 200},
			{2*gcTick + 30*time.Second, 0.003, 19, 200}, {2*gcTick + 60*time.Second, 0.003, 1, 25}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ticks := make([]pacerTick, len(tc.ticks))
			for i, tk := range tc.ticks {
				ticks[i] = pacerTick{at: tk.at, load: tk.load, rate: tk.rate, sized: 12 * mib, want: tk.want}
			}
			checkTicks(t, ticks)
		})
	}
}

// pacerTick is one tick of a pacer driven by hand: the collector's CPU
// (cores; the kernel's CPU time the same) and collections a second since
// the tick before, what is live, and the target wanted after it.
type pacerTick struct {
	at         time.Duration // since the first sample
	load, rate float64
	sized      uint64
	want       int
}

// checkTicks steps a pacer at the default through ticks, failing at the
// first target that is not the one wanted.
func checkTicks(t *testing.T, ticks []pacerTick) {
	t.Helper()
	t0 := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	p := &gcPacer{percent: defaultGCPercent}
	was := gcSample{at: t0}
	for i, tk := range ticks {
		secs := tk.at.Seconds() - was.at.Sub(t0).Seconds()
		now := gcSample{at: t0.Add(tk.at), sized: tk.sized, gc: was.gc + tk.load*secs, cycles: was.cycles + uint64(tk.rate*secs)}
		now.proc = now.gc
		if got := p.step(was, now); got != tk.want {
			t.Fatalf("tick %d (%v, %.3f cores, %.0f collections a second, %d MiB): percent %d, want %d",
				i, tk.at, tk.load, tk.rate, tk.sized>>20, got, tk.want)
		}
		was = now
	}
}
