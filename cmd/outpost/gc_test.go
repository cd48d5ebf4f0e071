package main

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
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

// The pacer raises the target while collections come faster than the
// line, in proportion, within its bounds, and lowers it only after gcHold
// of slow collections, by halves, never below the default.
func TestGCPacerStep(t *testing.T) {
	const mib = 1 << 20
	type tick struct {
		at     time.Duration // since the first tick
		cycles uint64        // in the tick
		live   uint64
		want   int
	}
	tests := []struct {
		name  string
		ticks []tick
	}{
		{"at rest stays at the default", []tick{{0, 3, 11 * mib, 25}, {time.Second, 7, 11 * mib, 25}, {2 * time.Second, 10, 11 * mib, 25}}},
		{"a surge raises it in proportion", []tick{{0, 30, 11 * mib, 75}, {time.Second, 12, 11 * mib, 90}}},
		{"at most gcMaxPercent", []tick{{0, 200, 11 * mib, gcMaxPercent}}},
		// 64 MiB of headroom over a 60 MiB live heap is 106 %.
		{"at most gcMaxHeadroom above the live heap", []tick{{0, 100, 60 * mib, 106}}},
		{"never below the default when the heap is huge", []tick{{0, 100, 1 << 30, 25}}},
		{"held while the surge pauses", []tick{{0, 40, 11 * mib, 100}, {29 * time.Second, 0, 11 * mib, 100}}},
		{"then halved, down to the default", []tick{{0, 40, 11 * mib, 100}, {30 * time.Second, 1, 11 * mib, 50},
			{31 * time.Second, 1, 11 * mib, 25}, {32 * time.Second, 1, 11 * mib, 25}}},
		// Halving at 6 a second would make 12: over the line, so it holds.
		{"not halved back over the line", []tick{{0, 40, 11 * mib, 100}, {40 * time.Second, 6, 11 * mib, 100}}},
		{"a new surge restarts the hold", []tick{{0, 40, 11 * mib, 100}, {20 * time.Second, 11, 11 * mib, 110},
			{45 * time.Second, 0, 11 * mib, 110}, {50 * time.Second, 0, 11 * mib, 55}}},
	}
	t0 := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &gcPacer{percent: defaultGCPercent}
			for i, tk := range tc.ticks {
				if got := p.step(t0.Add(tk.at), tk.cycles, tk.live); got != tk.want {
					t.Fatalf("tick %d (%v, %d collections, %d MiB live): percent %d, want %d", i, tk.at, tk.cycles, tk.live/mib, got, tk.want)
				}
			}
		})
	}
}

// paceGC reads the runtime's own count of collections: with a dozen
// collections between two ticks it raises the target, and it sets the
// target only when the step changed it.
func TestPaceGCReadsTheRuntime(t *testing.T) {
	ticks := make(chan time.Time)
	var set []int
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		paceGC(ctx, slog.New(slog.DiscardHandler), ticks, readGC, func(p int) int { set = append(set, p); return 0 })
	}()
	t0 := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	ticks <- t0 // at rest: nothing collected (or a few) since paceGC began
	for range 3 * gcFastPerSecond {
		runtime.GC()
	}
	ticks <- t0.Add(gcTick)
	ticks <- t0.Add(2 * gcTick) // nothing new: held
	cancel()
	<-done
	// Another test's leftovers may collect too: the raise must be there,
	// and no target set twice in a row.
	if len(set) == 0 || set[len(set)-1] <= defaultGCPercent {
		t.Fatalf("targets set %v, want a raise above %d after %d collections in a tick", set, defaultGCPercent, 3*gcFastPerSecond)
	}
	for i := 1; i < len(set); i++ {
		if set[i] == set[i-1] {
			t.Errorf("targets set %v: %d set twice in a row", set, set[i])
		}
	}
}
