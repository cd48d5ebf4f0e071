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
// spends 0.7–1.7 % of a core, in a 3 s window at most 6.4 % (the first
// round of checks; 5,000 HTTP checks at 30 s, 50 and 5,000 components,
// gctrace, marking on idle processors not counted), but every request served allocates in net/http,
// and a burst of page views at 25 % made it collect 40 times a second at
// 50 components (20 % of a core) and 8 at 5,000 (13 %): `/` fell to 80 %
// of a bare server (docs/benchmarks.md, "A collector that paces itself").
// So when the collector's CPU stays over gcLine the target rises, enough
// to bring it back to the line, and it falls back, a hold after its last
// change, as far as keeps the collector clear of the line.
//
// A pair whose load, scaled to the default, is over gcSurge, or that
// collected gcSurgeRate times a second, is a surge, no node at rest's
// noise (at most 6.4 % of a core in a window, above): it gets all the
// headroom the caps allow, at once, and keeps it while what the hold
// saw would still be a surge (surging). Steered in
// proportion, a surge settled where the collector cost about gcLine and
// `/` lost a tenth or more of a bare server's rate to it (target 103
// and 108, 84-88 %; GOGC=150 and 300 fixed, 96-97 %), and under a loaded
// machine's contention the proportional steps crept (25, 47, 69, 86, 93
// over 15 s: collections do not thin out in proportion to the target, a
// small heap's fixed costs are most of each) (docs/benchmarks.md, "The
// collector's answer to a surge").
const (
	gcLine  = 0.05 // of one core, marking on idle processors not counted
	gcSurge = 2 * gcLine
	// gcSurgeRate: collections a second that, over the line, are a
	// surge whatever the CPU read. A node at rest collects a few times a
	// second; a burst of page views at 25 % made it collect 40-110 times
	// at 50 components, and on a loaded machine the CPU read for it was
	// 8-10 % (the kernel gives the process less), so it stepped to
	// 41-50 % and stayed just under the line with `/` at 81-87 % of a
	// bare server: collecting that often costs more than the collector's
	// own CPU (write barriers on while it marks, assists).
	gcSurgeRate   = 10
	gcMaxPercent  = 200
	gcMaxHeadroom = 32 << 20 // bytes above the live heap, stacks and globals the pacer may allow
	// gcTick is the pacer's window. The runtime accounts a collection's
	// CPU when it ends, so a tick sees whole collections; a raise needs
	// two windows running over the line, both at the target in force
	// (6 s: a reload's busy second, 40-130 ms of collector, with a node
	// at rest's around it stays under it).
	gcTick = 3 * time.Second
	// gcHold: a surge comes in waves; the target is lowered only gcHold
	// after its last change, to where the collector's CPU over the last
	// gcHold would have been 0.8 of the line.
	gcHold = 30 * time.Second
	// gcSettle: start-up (the config's load, the first renders, the first
	// probes' clients) collects 25-40 times in its first second, once;
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
	percent int
	raised  time.Time // the last change (a raise, a step down, a clamp)
	spent   []gcSpent // the ticks of the last gcHold, oldest first
	surge   bool      // a surge raised it to the caps: held while the collector at the default would be a surge
}

// atDefault is what a load measured at the target in force would be at
// the default, were the collector's CPU in inverse proportion to the
// target. At a small heap collections thin out less than that (49 a
// second at 25 %, 19 at 200 %, `/` at 50 components), so this reads
// high there: a surge is judged generously and held a little long.
func (p *gcPacer) atDefault(load float64) float64 {
	return load * float64(p.percent) / defaultGCPercent
}

// gcSpent is what the collector spent over one tick.
type gcSpent struct {
	from, at    time.Time // the tick's start and end
	cpu         float64
	collections float64
}

func (t gcSpent) secs() float64 { return t.at.Sub(t.from).Seconds() }

// gcSample is what the runtime and the kernel say at a tick.
type gcSample struct {
	at time.Time
	// The runtime's CPU classes are the time processors spent in each,
	// wall time: on oversubscribed cores a descheduled mark worker still
	// counts. Their ratio holds, so the collector's CPU is its share of
	// the processors' busy time applied to the process's CPU time from
	// the kernel.
	gc     float64 // seconds in the collector, marking on idle processors not counted
	user   float64 // seconds running Go code
	proc   float64 // the process's CPU seconds (user and system), from the kernel; -1 where unknown
	sized  uint64  // bytes the target is a percent of: live heap, stacks, globals
	cycles uint64  // collections so far (logged)
}

// collectorCPU is the collector's CPU seconds between two samples (its
// time in the runtime's classes where the kernel's is not known).
func collectorCPU(was, now gcSample) float64 {
	gc, user := now.gc-was.gc, now.user-was.user
	if gc <= 0 || gc+user <= 0 {
		return 0
	}
	if now.proc < 0 || was.proc < 0 {
		return gc
	}
	return (now.proc - was.proc) * gc / (gc + user)
}

// load is the collector's CPU, in cores, over the last n ticks kept (all
// when n is 0).
func (p *gcPacer) load(n int) float64 {
	return p.perSecond(n, func(t gcSpent) float64 { return t.cpu })
}

// rate is collections a second over the last n ticks kept (all when n
// is 0).
func (p *gcPacer) rate(n int) float64 {
	return p.perSecond(n, func(t gcSpent) float64 { return t.collections })
}

// perSecond is what of counts over the last n ticks kept (all when n is
// 0), a second of their time.
func (p *gcPacer) perSecond(n int, of func(gcSpent) float64) float64 {
	ts := p.spent
	if n > 0 {
		ts = ts[max(0, len(ts)-n):]
	}
	var sum, secs float64
	for _, t := range ts {
		sum, secs = sum+of(t), secs+t.secs()
	}
	if secs == 0 {
		return 0
	}
	return sum / secs
}

// surging says whether what the last n ticks cost (all when n is 0) is a
// surge: over gcSurge at the default, or collecting gcSurgeRate times a
// second.
func (p *gcPacer) surging(n int) bool {
	return p.atDefault(p.load(n)) > gcSurge || p.rate(n) >= gcSurgeRate
}

// step is the target after a tick: was is the sample at the tick before.
func (p *gcPacer) step(was, now gcSample) int {
	elapsed := now.at.Sub(was.at).Seconds()
	if elapsed <= 0 {
		return p.percent
	}
	p.spent = append(p.spent, gcSpent{from: was.at, at: now.at, cpu: collectorCPU(was, now),
		collections: float64(uint32(now.cycles) - uint32(was.cycles))}) // the runtime counts in 32 bits
	drop := 0
	for drop < len(p.spent) && now.at.Sub(p.spent[drop].at) >= gcHold {
		drop++
	}
	p.spent = p.spent[drop:]
	n := len(p.spent)
	over := func(t gcSpent) bool { return t.cpu/t.secs() > gcLine }
	// Both ticks over the line, both run at the target in force.
	pair := n >= 2 && over(p.spent[n-1]) && over(p.spent[n-2]) && !p.spent[n-2].from.Before(p.raised)
	switch {
	case pair && p.surging(2):
		p.surge = true
		p.percent = gcMaxPercent // the caps below bring it to the headroom allowed
		p.raised = now.at
	case pair:
		// The collector's CPU is about in proportion to how often it
		// runs, inversely to the target: scaling the target by the
		// excess brings the CPU back to the line.
		p.percent = int(math.Round(float64(p.percent) * p.load(2) / gcLine))
		p.raised = now.at
	case p.surge && p.surging(0):
		// The surge goes on: at the default it would be a surge again.
		// (Ended on the line it began on: ended on gcLine, a node at
		// rest over it after a surge would never come down.)
	case p.percent > defaultGCPercent && now.at.Sub(p.raised) >= gcHold:
		// A hold after the last change, down to the target at which the
		// collector's CPU over the hold would have been 0.8 of the line:
		// room for a raise's noise, and a target raised past the line
		// (by a noisy pair) comes back.
		p.surge = false
		lower := max(defaultGCPercent, int(math.Round(float64(p.percent)*p.load(0)/(0.8*gcLine))))
		if lower < p.percent {
			p.percent = lower
			p.raised = now.at // the next change judged on ticks run at this one
		}
	}
	top := gcMaxPercent
	if now.sized > 0 {
		top = int(min(uint64(gcMaxPercent), uint64(gcMaxHeadroom)*100/now.sized))
	}
	if capped := max(defaultGCPercent, min(p.percent, top)); capped != p.percent {
		p.percent = capped
		p.raised = now.at
	}
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
					slog.Float64("gc_cpu_seconds", collectorCPU(was, now)), slog.Float64("seconds", now.at.Sub(was.at).Seconds()),
					slog.Uint64("collections", uint64(uint32(now.cycles)-uint32(was.cycles))), // the runtime counts in 32 bits
					slog.Uint64("sized_bytes", now.sized))
			}
			was = now
		}
	}
}

// gcMetrics are the runtime's metrics readGC reads, in this order.
func gcMetrics() [7]string {
	return [...]string{
		"/cpu/classes/gc/total:cpu-seconds",
		"/cpu/classes/gc/mark/idle:cpu-seconds",
		"/cpu/classes/user:cpu-seconds",
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
	var s [7]metrics.Sample
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
	return gcSample{at: at, gc: f(0) - f(1), user: f(2), proc: processCPU(), sized: u(3) + u(4) + u(5), cycles: u(6)}
}
