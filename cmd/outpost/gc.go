package main

import (
	"context"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// defaultGCPercent is the collector's target at rest when the operator set
// neither GOGC nor GOMEMLIMIT. Go's 100 lets the heap grow to twice what is
// live before a collection; for a monitor whose live heap is mostly
// long-lived (configuration, prepared pages, metrics) that doubling is most
// of its RSS. Collecting at 1.25× cost 0.07–0.08 ms more CPU per probe run
// for 5,000 HTTP checks and took about 30 % off the peak RSS
// (docs/benchmarks.md, "Lean at any size", fifth pass).
const defaultGCPercent = 25

// The pacer's line and bounds. A collection marks the whole live heap, so
// what a busy collector costs is its CPU: at rest a node's collector
// spends 1–3 % of a core (5,000 HTTP checks at 30 s; 50 and 5,000
// components, gctrace), but every request served allocates in net/http,
// and a burst of page views at 25 % made it collect 40 times a second at
// 50 components (20 % of a core) and 8 at 5,000 (13 %): `/` fell to 80 %
// of a bare server (docs/benchmarks.md, "A collector that paces itself").
// So when the collector's CPU over a tick is over gcLine the target rises,
// enough to bring it back to the line, and falls back once it has been
// quiet.
const (
	gcLine        = 0.05 // of one core, marking on idle processors not counted
	gcMaxPercent  = 200
	gcMaxHeadroom = 32 << 20 // bytes above the live heap, stacks and globals the pacer may allow
	// gcHold: a surge comes in waves; the memory it needed is kept until
	// the collector has been under half the line this long.
	gcHold = 30 * time.Second
	// gcTick is the pacer's window. The runtime accounts a collection's
	// CPU when it ends, so a tick sees whole collections: over 3 s a
	// surge's rate is read to within a collection in ten, and a one-off
	// busy second (a reload: 8 collections, 40–130 ms of collector) stays
	// under the line wherever the tick falls.
	gcTick = 3 * time.Second
	// gcSettle: start-up (the config's load, the first renders, the first
	// probes' clients) collects 25–40 times in its first second, once;
	// the pacer watches only after it.
	gcSettle = 10 * time.Second
)

// applyGCDefault sets defaultGCPercent unless the environment already
// speaks for the collector, and logs which of the two is in force, so an
// operator reading the start's log knows what to override. It says
// whether Outpost's default is in force (and so the pacer may run).
func applyGCDefault(log *slog.Logger, lookup func(string) (string, bool), setPercent func(int) int) bool {
	// An empty variable is unset, as the runtime reads it.
	gogc, _ := lookup("GOGC")
	limit, _ := lookup("GOMEMLIMIT")
	if gogc != "" || limit != "" {
		log.Info("garbage collector as the operator set it",
			slog.String("GOGC", gogc), slog.String("GOMEMLIMIT", limit))
		return false
	}
	setPercent(defaultGCPercent)
	log.Info("garbage collector at Outpost's default (GOGC or GOMEMLIMIT in the environment override it)",
		slog.Int("gogc", defaultGCPercent), slog.Float64("paced_over_cores", gcLine),
		slog.Int("paced_up_to", gcMaxPercent), slog.Int("paced_headroom_mib", gcMaxHeadroom>>20))
	return true
}

// gcDefaultFromEnv applies Outpost's default on the process's environment
// and returns the pacer to run with it (nil when the operator set the
// collector).
func gcDefaultFromEnv(log *slog.Logger) func(context.Context) {
	if !applyGCDefault(log, os.LookupEnv, debug.SetGCPercent) {
		return nil
	}
	return func(ctx context.Context) {
		settle := time.NewTimer(gcSettle)
		defer settle.Stop()
		select {
		case <-ctx.Done():
			return
		case <-settle.C:
		}
		t := time.NewTicker(gcTick)
		defer t.Stop()
		paceGC(ctx, log, t.C, readGC, debug.SetGCPercent)
	}
}

// gcPacer decides the collector's target from what the collector cost
// between ticks.
type gcPacer struct {
	percent  int
	lastBusy time.Time // the last tick over half the line
}

// gcSample is what the runtime says at a tick.
type gcSample struct {
	at     time.Time
	cpu    float64 // seconds the collector has spent, marking on idle processors not counted
	sized  uint64  // bytes the target is a percent of: live heap, stacks, globals
	cycles uint64  // collections so far (logged)
}

// step is the target after a tick: was is the sample at the tick before.
func (p *gcPacer) step(was, now gcSample) int {
	elapsed := now.at.Sub(was.at).Seconds()
	if elapsed <= 0 {
		return p.percent
	}
	load := (now.cpu - was.cpu) / elapsed // of one core, at the target in force
	if load > gcLine/2 {
		p.lastBusy = now.at
	}
	switch {
	case load > gcLine:
		// The collector's CPU is about in proportion to how often it
		// runs, inversely to the target: scaling the target by the
		// excess brings the CPU back to the line.
		p.percent = int(math.Round(float64(p.percent) * min(load/gcLine, 8)))
	case now.at.Sub(p.lastBusy) >= gcHold:
		// Quiet under half the line: halving the target at most doubles
		// the CPU, still under the line, so it does not climb straight back.
		p.percent /= 2
	}
	top := gcMaxPercent
	if now.sized > 0 {
		top = int(min(uint64(gcMaxPercent), uint64(gcMaxHeadroom)*100/now.sized))
	}
	p.percent = max(defaultGCPercent, min(p.percent, top))
	return p.percent
}

// paceGC runs the pacer on every tick until ctx ends: read samples the
// runtime (the tick only wakes it: under a busy CPU the loop may wake
// late, and the sample's own time counts), set sets the target.
func paceGC(ctx context.Context, log *slog.Logger, ticks <-chan time.Time, read func() gcSample, set func(int) int) {
	p := &gcPacer{percent: defaultGCPercent}
	was := read()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			now := read()
			before := p.percent
			if p.step(was, now) != before {
				set(p.percent)
				log.Debug("garbage collector's target paced", slog.Int("gogc", p.percent), slog.Int("was", before),
					slog.Float64("gc_cpu_seconds", now.cpu-was.cpu), slog.Float64("seconds", now.at.Sub(was.at).Seconds()),
					slog.Uint64("collections", uint64(uint32(now.cycles)-uint32(was.cycles))), // the runtime counts in 32 bits
					slog.Uint64("sized_bytes", now.sized))
			}
			was = now
		}
	}
}

// gcMetrics are the runtime's metrics readGC reads, in this order.
func gcMetrics() [6]string {
	return [...]string{
		"/cpu/classes/gc/total:cpu-seconds",
		"/cpu/classes/gc/mark/idle:cpu-seconds",
		"/gc/heap/live:bytes",
		"/gc/scan/stack:bytes",
		"/gc/scan/globals:bytes",
		"/gc/cycles/total:gc-cycles",
	}
}

// readGC samples the runtime now. (The collector's CPU is accounted as
// each collection ends, its first pause's as it begins: a tick sees the
// collections that ended in it.)
func readGC() gcSample {
	at := time.Now()
	var s [6]metrics.Sample
	for i, name := range gcMetrics() {
		s[i].Name = name
	}
	metrics.Read(s[:])
	f := func(i int) float64 {
		if s[i].Value.Kind() == metrics.KindFloat64 {
			return s[i].Value.Float64()
		}
		return 0
	}
	u := func(i int) uint64 {
		if s[i].Value.Kind() == metrics.KindUint64 {
			return s[i].Value.Uint64()
		}
		return 0
	}
	return gcSample{at: at, cpu: f(0) - f(1), sized: u(2) + u(3) + u(4), cycles: u(5)}
}
