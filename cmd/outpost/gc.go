package main

import (
	"context"
	"log/slog"
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

// The pacer's bounds. At rest a node collects 1–7 times a second (5,000
// HTTP checks at 30 s, 50 or 5,000 components); a burst of page views
// allocates in net/http for every request and, at 25 %, makes it collect
// 30 times a second and more, each collection marking the whole live heap:
// about 15 points of `/` against a bare server (docs/benchmarks.md,
// "A collector that paces itself"). So the target rises while collections
// come faster than gcFastPerSecond, enough to bring them back to it, and
// falls back once they have been slow for gcHold.
const (
	gcMaxPercent    = 200
	gcMaxHeadroom   = 64 << 20 // bytes above the live heap the pacer may allow
	gcFastPerSecond = 10
	gcHold          = 30 * time.Second // a surge comes in waves: keep the memory it needed
	gcTick          = time.Second
	// gcSettle: start-up (the config's load, the first renders, the first
	// probes' clients) collects 30–40 times in its first second, once;
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
		slog.Int("gogc", defaultGCPercent), slog.Int("gogc_max", gcMaxPercent),
		slog.Int("fast_per_second", gcFastPerSecond))
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

// gcPacer decides the collector's target from how many collections each
// tick saw.
type gcPacer struct {
	percent  int
	lastFast time.Time // the last tick that saw collections come too fast
}

// step is the target after a tick at now that saw cycles collections
// (over gcTick), with live bytes live after the last one.
func (p *gcPacer) step(now time.Time, cycles, live uint64) int {
	perSecond := float64(cycles) / gcTick.Seconds()
	switch {
	case perSecond > gcFastPerSecond:
		p.lastFast = now
		// Collections come about in proportion to the target's headroom:
		// scaling it by the rate's excess brings the rate to the line.
		want := int(float64(p.percent) * perSecond / gcFastPerSecond)
		top := gcMaxPercent
		if live > 0 {
			top = min(top, int(uint64(gcMaxHeadroom)*100/live))
		}
		p.percent = max(defaultGCPercent, min(want, top))
	case now.Sub(p.lastFast) >= gcHold && 2*perSecond <= gcFastPerSecond:
		// Halving the target at most doubles the rate: still under the
		// line, so the pacer does not climb straight back.
		p.percent = max(defaultGCPercent, p.percent/2)
	}
	return p.percent
}

// paceGC runs the pacer on every tick until ctx ends: read gives the
// collections so far and the live heap, set sets the target.
func paceGC(ctx context.Context, log *slog.Logger, ticks <-chan time.Time, read func() (cycles, live uint64), set func(int) int) {
	p := &gcPacer{percent: defaultGCPercent}
	before, _ := read()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticks:
			cycles, live := read()
			was := p.percent
			if p.step(now, cycles-before, live) != was {
				set(p.percent)
				log.Debug("garbage collector's target paced", slog.Int("gogc", p.percent), slog.Int("was", was),
					slog.Uint64("collections", cycles-before), slog.Uint64("live_bytes", live))
			}
			before = cycles
		}
	}
}

// readGC reads the collections so far and the heap live after the last
// one from the runtime.
func readGC() (cycles, live uint64) {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		cycles = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		live = s[1].Value.Uint64()
	}
	return cycles, live
}
