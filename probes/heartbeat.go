package probes

import (
	"context"
	"crypto/subtle"
	"slices"
	"sync"
	"time"
)

// Beats records heartbeats pushed by watched jobs. Heartbeat probes read
// it; the web layer writes it, knowing a beat's check by its token. One
// per process, built in main. It calls no one: a beat is signalled on
// Ready, and whoever runs the checks (the node) reads Pending.
type Beats struct {
	mu      sync.Mutex
	now     func() time.Time
	started time.Time
	last    map[string]time.Time // last success ping, by check
	failed  map[string]time.Time // last reported failure, by check
	tokens  map[string]string    // token hash → check
	pending map[string]bool      // checks beaten since Pending was read
	ready   chan struct{}
}

// NewBeats starts a registry; a check never pinged counts from now.
func NewBeats(now func() time.Time) *Beats {
	if now == nil {
		now = time.Now
	}
	return &Beats{now: now, started: now(), last: map[string]time.Time{}, failed: map[string]time.Time{},
		pending: map[string]bool{}, ready: make(chan struct{}, 1)}
}

// SetTokens replaces the token hashes beats are taken with: hashes maps
// each heartbeat check to its token's hash.
func (b *Beats) SetTokens(hashes map[string]string) {
	t := make(map[string]string, len(hashes))
	for check, h := range hashes {
		t[h] = check
	}
	b.mu.Lock()
	b.tokens = t
	b.mu.Unlock()
}

// CheckFor returns the check whose token hash is hash. Every hash is
// compared, in constant time, so the answer's timing tells nothing.
func (b *Beats) CheckFor(hash string) (check string, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for h, c := range b.tokens {
		if subtle.ConstantTimeCompare([]byte(hash), []byte(h)) == 1 {
			check, ok = c, true
		}
	}
	return check, ok
}

// Beat records a ping, or a reported failure when failed is true, and
// signals Ready so the check is judged at once.
func (b *Beats) Beat(check string, failed bool) {
	b.mu.Lock()
	if failed {
		b.failed[check] = b.now()
	} else {
		b.last[check] = b.now()
	}
	b.pending[check] = true
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// Heard records a beat made at at and sent to another Outpost of a
// cluster (or to this one, through the cluster's log), unless one as
// recent is known, and signals Ready as Beat does; it reports whether
// the beat was new. A beat from before this registry started counts as
// none, as after a restart: a check not beaten since gets a fresh period.
func (b *Beats) Heard(check string, at time.Time, failed bool) bool {
	b.mu.Lock()
	seen := b.last
	if failed {
		seen = b.failed
	}
	if prev, ok := seen[check]; (ok && !at.After(prev)) || at.Before(b.started) {
		b.mu.Unlock()
		return false
	}
	seen[check] = at
	b.pending[check] = true
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
	return true
}

// Ready signals that checks were beaten (read them with Pending).
// Signals coalesce: one receive may stand for several beats.
func (b *Beats) Ready() <-chan struct{} { return b.ready }

// Pending returns the checks beaten since it was last called, sorted.
func (b *Beats) Pending() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.pending))
	for c := range b.pending {
		out = append(out, c)
	}
	clear(b.pending)
	slices.Sort(out)
	return out
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
