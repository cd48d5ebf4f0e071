package probes

import (
	"context"
	"sync"
	"time"
)

// Beats records heartbeats pushed by watched jobs. Heartbeat probes read
// it; the web layer writes it. One per process, built in main.
type Beats struct {
	mu      sync.Mutex
	now     func() time.Time
	started time.Time
	last    map[string]time.Time // last success ping, by check
	failed  map[string]time.Time // last reported failure, by check
	// OnBeat, when set, is told of every beat (to re-run the check now).
	OnBeat func(check string)
}

// NewBeats starts a registry; a check never pinged counts from now.
func NewBeats(now func() time.Time) *Beats {
	if now == nil {
		now = time.Now
	}
	return &Beats{now: now, started: now(), last: map[string]time.Time{}, failed: map[string]time.Time{}}
}

// Beat records a ping, or a reported failure when failed is true.
func (b *Beats) Beat(check string, failed bool) {
	b.mu.Lock()
	if failed {
		b.failed[check] = b.now()
	} else {
		b.last[check] = b.now()
	}
	cb := b.OnBeat
	b.mu.Unlock()
	if cb != nil {
		cb(check)
	}
}

func (b *Beats) get(check string) (last, failed time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	last, ok := b.last[check]
	if !ok {
		last = b.started
	}
	return last, b.failed[check]
}

// Heartbeat is a push check: Up while the job has pinged within period +
// grace, Down when it missed that or last reported failure.
type Heartbeat struct {
	name          string
	period, grace time.Duration
	beats         *Beats
}

func newHeartbeat(s Spec, o Options) (Probe, error) {
	switch {
	case s.Period <= 0:
		return nil, fieldErr("period", "is required for kind heartbeat (how often the job runs)")
	case s.Grace < 0:
		return nil, fieldErr("grace", "must not be negative")
	}
	beats := o.Beats
	if beats == nil { // outpost check / probe: nothing serves pushes there
		beats = NewBeats(nil)
	}
	return &Heartbeat{name: s.Name, period: s.Period, grace: s.Grace, beats: beats}, nil
}

// Run judges the last beats against now.
func (h *Heartbeat) Run(context.Context) Result {
	last, failed := h.beats.get(h.name)
	now := h.beats.now()
	var r Result
	switch {
	case failed.After(last):
		r = down(ReasonReportedFailure, 0, "the job reported a failure at %s", failed.UTC().Format(time.RFC3339))
	case now.Sub(last) > h.period+h.grace:
		r = down(ReasonMissedHeartbeat, 0, "no heartbeat since %s (period %s, grace %s)", last.UTC().Format(time.RFC3339), h.period, h.grace)
	default:
		r = up(0)
	}
	r.detail("last_beat", last.UTC().Format(time.RFC3339))
	return r
}
