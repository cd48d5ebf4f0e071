package main

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// defaultGCPercent is the collector's target when the operator set neither
// GOGC nor GOMEMLIMIT. Go's 100 lets the heap grow to twice what is live
// before a collection; for a monitor whose live heap is mostly long-lived
// (configuration, prepared pages, metrics) that doubling is most of its
// RSS. Collecting at 1.25× cost 0.07–0.08 ms more CPU per probe run for
// 5,000 HTTP checks and took about 30 % off the peak RSS (docs/benchmarks.md,
// "Lean at any size", fifth pass).
const defaultGCPercent = 25

// applyGCDefault sets defaultGCPercent unless the environment already
// speaks for the collector, and logs which of the two is in force, so an
// operator reading the start's log knows what to override.
func applyGCDefault(log *slog.Logger, lookup func(string) (string, bool), setPercent func(int) int) {
	// An empty variable is unset, as the runtime reads it.
	gogc, _ := lookup("GOGC")
	limit, _ := lookup("GOMEMLIMIT")
	if gogc != "" || limit != "" {
		log.Info("garbage collector as the operator set it",
			slog.String("GOGC", gogc), slog.String("GOMEMLIMIT", limit))
		return
	}
	setPercent(defaultGCPercent)
	log.Info("garbage collector at Outpost's default (GOGC or GOMEMLIMIT in the environment override it)",
		slog.Int("gogc", defaultGCPercent))
}

// applyGCDefaultFromEnv is applyGCDefault on the process's environment.
func applyGCDefaultFromEnv(log *slog.Logger) {
	applyGCDefault(log, os.LookupEnv, debug.SetGCPercent)
}
