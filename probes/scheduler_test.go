package probes

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// funcProbe adapts a function to Probe for scheduler tests.
type funcProbe func(ctx context.Context) Result

func (f funcProbe) Run(ctx context.Context) Result { return f(ctx) }

var upProbe = funcProbe(func(context.Context) Result { return up(time.Millisecond) })

// collector gathers reports and lets tests wait for a condition.
type collector struct {
	mu      sync.Mutex
	reports []Report
	changed chan struct{}
}

func newCollector() *collector { return &collector{changed: make(chan struct{}, 1)} }

func (c *collector) sink(r Report) {
	c.mu.Lock()
	c.reports = append(c.reports, r)
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *collector) snapshot() []Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Report(nil), c.reports...)
}

// waitFor polls cond on every report until it holds or the deadline passes.
func (c *collector) waitFor(t *testing.T, d time.Duration, what string, cond func([]Report) bool) []Report {
	t.Helper()
	deadline := time.After(d)
	for {
		if rs := c.snapshot(); cond(rs) {
			return rs
		}
		select {
		case <-c.changed:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s (have %d reports)", what, len(c.snapshot()))
		}
	}
}

func newTestScheduler(t *testing.T, jobs []Job, opts SchedulerOptions) *Scheduler {
	t.Helper()
	s, err := NewScheduler(jobs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func stop(s *Scheduler) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.Stop(ctx)
}

func TestSchedulerStagger(t *testing.T) {
	defer goleak.VerifyNone(t)
	const interval = time.Second // 100 slots of 10ms for 20 checks
	const res = 10 * time.Millisecond
	c := newCollector()
	var jobs []Job
	for i := range 20 {
		jobs = append(jobs, Job{Name: fmt.Sprintf("check-%02d", i), Probe: upProbe, Interval: interval})
	}
	s := newTestScheduler(t, jobs, SchedulerOptions{Sink: c.sink, SlotResolution: res})
	s.Start()
	rs := c.waitFor(t, 3*time.Second, "one run of every check", func(rs []Report) bool { return distinct(rs) == 20 })
	stop(s)

	spreadOf := Spread(jobs, res)
	offsets := map[time.Duration]bool{}
	for _, r := range rs {
		want := spreadOf[r.Check]
		got := time.Duration(r.Due.UnixNano() % int64(interval))
		if got != want {
			t.Errorf("%s due at offset %v, want its stable offset %v", r.Check, got, want)
		}
		if r.Lag() < 0 || r.Lag() > 200*time.Millisecond {
			t.Errorf("%s lag %v", r.Check, r.Lag())
		}
		offsets[want] = true
	}
	if len(offsets) < 15 {
		t.Errorf("20 checks share only %d distinct offsets: not spread", len(offsets))
	}
}

func distinct(rs []Report) int {
	m := map[string]bool{}
	for _, r := range rs {
		m[r.Check] = true
	}
	return len(m)
}

func TestSchedulerNoOverlap(t *testing.T) {
	defer goleak.VerifyNone(t)
	var active, maxActive atomic.Int32
	slow := funcProbe(func(ctx context.Context) Result {
		n := active.Add(1)
		for {
			m := maxActive.Load()
			if n <= m || maxActive.CompareAndSwap(m, n) {
				break
			}
		}
		defer active.Add(-1)
		<-ctx.Done() // runs until its timeout, longer than the interval
		return down(ReasonTimeout, 0, "slow")
	})
	c := newCollector()
	s := newTestScheduler(t, []Job{{Name: "slow", Probe: slow, Interval: 100 * time.Millisecond, Timeout: time.Second}}, SchedulerOptions{Sink: c.sink, SlotResolution: time.Millisecond})
	s.Start()
	c.waitFor(t, 3*time.Second, "two runs", func(rs []Report) bool { return len(rs) >= 2 })
	stop(s)
	if maxActive.Load() != 1 {
		t.Fatalf("%d runs of one check overlapped", maxActive.Load())
	}
	// The timeout is capped at the interval, so each run ends at ~100ms.
	for _, r := range c.snapshot() {
		if d := r.Finished.Sub(r.Started); d > 150*time.Millisecond {
			t.Errorf("run lasted %v, longer than its interval", d)
		}
	}
}

func TestSchedulerConcurrencyBound(t *testing.T) {
	defer goleak.VerifyNone(t)
	var active, maxActive atomic.Int32
	release := make(chan struct{})
	blocking := funcProbe(func(ctx context.Context) Result {
		n := active.Add(1)
		for {
			m := maxActive.Load()
			if n <= m || maxActive.CompareAndSwap(m, n) {
				break
			}
		}
		defer active.Add(-1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return up(0)
	})
	var jobs []Job
	for i := range 10 {
		jobs = append(jobs, Job{Name: fmt.Sprint("c", i), Probe: blocking, Interval: time.Hour})
	}
	c := newCollector()
	s := newTestScheduler(t, jobs, SchedulerOptions{Sink: c.sink, Concurrency: 3})
	for _, j := range jobs {
		if !s.RunNow(j.Name) {
			t.Fatalf("RunNow(%s) refused", j.Name)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for active.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := active.Load(); got != 3 {
		t.Fatalf("%d runs active, want the bound of 3", got)
	}
	close(release)
	rs := c.waitFor(t, 2*time.Second, "all ten runs", func(rs []Report) bool { return len(rs) == 10 })
	stop(s)
	if maxActive.Load() != 3 {
		t.Fatalf("max active %d, want 3", maxActive.Load())
	}
	for _, r := range rs {
		if !r.Recheck {
			t.Errorf("%s: RunNow report not marked as recheck", r.Check)
		}
	}
}

func TestSchedulerRunNowRefusals(t *testing.T) {
	defer goleak.VerifyNone(t)
	release := make(chan struct{})
	blocking := funcProbe(func(ctx context.Context) Result { <-release; return up(0) })
	c := newCollector()
	s := newTestScheduler(t, []Job{{Name: "a", Probe: blocking, Interval: time.Hour}}, SchedulerOptions{Sink: c.sink})
	if s.RunNow("nope") {
		t.Error("RunNow of an unknown check succeeded")
	}
	if !s.RunNow("a") {
		t.Fatal("first RunNow refused")
	}
	if s.RunNow("a") {
		t.Error("RunNow while the check is running succeeded")
	}
	if _, skipped := s.Counts(); skipped != 1 {
		t.Errorf("skipped = %d, want 1", skipped)
	}
	close(release)
	c.waitFor(t, time.Second, "the run", func(rs []Report) bool { return len(rs) == 1 })
	stop(s)
	if s.RunNow("a") {
		t.Error("RunNow after Stop succeeded")
	}
}

// The times a scheduler reports come from its injected clock.
func TestSchedulerReportsOnItsClock(t *testing.T) {
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	c := newCollector()
	s := newTestScheduler(t, []Job{{Name: "a", Probe: upProbe, Interval: time.Hour}}, SchedulerOptions{Sink: c.sink, Now: func() time.Time { return at }})
	if !s.RunNow("a") {
		t.Fatal("RunNow refused")
	}
	r := c.waitFor(t, 5*time.Second, "the run", func(rs []Report) bool { return len(rs) == 1 })[0]
	if !r.Due.Equal(at) || !r.Started.Equal(at) || !r.Finished.Equal(at) {
		t.Errorf("report times %s %s %s, want %s", r.Due, r.Started, r.Finished, at)
	}
	stop(s)
}

func TestSchedulerStopWaitsForInFlight(t *testing.T) {
	defer goleak.VerifyNone(t)
	started := make(chan struct{})
	var finished atomic.Bool
	p := funcProbe(func(ctx context.Context) Result {
		close(started)
		select {
		case <-time.After(100 * time.Millisecond): // a run that takes a while
		case <-ctx.Done():
		}
		finished.Store(true)
		return up(0)
	})
	c := newCollector()
	s := newTestScheduler(t, []Job{{Name: "a", Probe: p, Interval: time.Hour}}, SchedulerOptions{Sink: c.sink})
	s.Start()
	s.RunNow("a")
	<-started
	stop(s)
	if !finished.Load() || len(c.snapshot()) != 1 {
		t.Fatalf("Stop returned before the in-flight run reported (finished=%v reports=%d)", finished.Load(), len(c.snapshot()))
	}
}

func TestSchedulerStopDeadlineCancelsRuns(t *testing.T) {
	defer goleak.VerifyNone(t)
	started := make(chan struct{})
	p := funcProbe(func(ctx context.Context) Result {
		close(started)
		<-ctx.Done()
		return down(ReasonTimeout, 0, "cancelled")
	})
	c := newCollector()
	s := newTestScheduler(t, []Job{{Name: "a", Probe: p, Interval: time.Hour}}, SchedulerOptions{Sink: c.sink})
	s.RunNow("a")
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	s.Stop(ctx)
	if rs := c.snapshot(); len(rs) != 1 || rs[0].Result.Reason != ReasonTimeout {
		t.Fatalf("reports after a bounded stop: %+v", rs)
	}
}

func TestSchedulerRecoversPanics(t *testing.T) {
	defer goleak.VerifyNone(t)
	c := newCollector()
	p := funcProbe(func(context.Context) Result { panic("boom") })
	s := newTestScheduler(t, []Job{{Name: "a", Probe: p, Interval: time.Hour}}, SchedulerOptions{Sink: c.sink})
	s.RunNow("a")
	rs := c.waitFor(t, time.Second, "the run", func(rs []Report) bool { return len(rs) == 1 })
	stop(s)
	if rs[0].Result.Outcome != Down || rs[0].Result.Reason != ReasonInternal {
		t.Fatalf("a panicking probe reported %+v", rs[0].Result)
	}
}

func TestSchedulerCronSpec(t *testing.T) {
	defer goleak.VerifyNone(t)
	c := newCollector()
	s := newTestScheduler(t, []Job{{Name: "cron", Probe: upProbe, Schedule: "@every 1s"}}, SchedulerOptions{Sink: c.sink})
	s.Start()
	rs := c.waitFor(t, 3*time.Second, "a cron run", func(rs []Report) bool { return len(rs) >= 1 })
	stop(s)
	if rs[0].Due.Nanosecond() != 0 {
		t.Errorf("cron run due %v, want a whole second", rs[0].Due)
	}
	if s.LastTick().IsZero() {
		t.Error("LastTick not recorded")
	}
}

func TestSchedulerInvalid(t *testing.T) {
	sink := func(Report) {}
	for name, jobs := range map[string][]Job{
		"bad cron":  {{Name: "a", Probe: upProbe, Schedule: "every minute"}},
		"no timing": {{Name: "a", Probe: upProbe}},
		"duplicate": {{Name: "a", Probe: upProbe, Interval: time.Second}, {Name: "a", Probe: upProbe, Interval: time.Second}},
	} {
		if _, err := NewScheduler(jobs, SchedulerOptions{Sink: sink}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewScheduler(nil, SchedulerOptions{}); err == nil {
		t.Error("no sink: accepted")
	}
}

func TestSlotSchedule(t *testing.T) {
	s := slotSchedule{interval: 30 * time.Second, offset: 1250 * time.Millisecond}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct{ at, next, prev time.Time }{
		{base, base.Add(1250 * time.Millisecond), base.Add(-28750 * time.Millisecond)},
		{base.Add(1250 * time.Millisecond), base.Add(31250 * time.Millisecond), base.Add(1250 * time.Millisecond)},
		{base.Add(2 * time.Second), base.Add(31250 * time.Millisecond), base.Add(1250 * time.Millisecond)},
	}
	for _, tc := range tests {
		if got := s.Next(tc.at); !got.Equal(tc.next) {
			t.Errorf("Next(%v) = %v, want %v", tc.at, got, tc.next)
		}
		if got := s.Prev(tc.at); !got.Equal(tc.prev) {
			t.Errorf("Prev(%v) = %v, want %v", tc.at, got, tc.prev)
		}
	}
}

// Checks of one interval run in name order, evenly apart, whatever order
// the configuration lists them in: a commit window's results then belong
// to neighbouring keys in the store. Cron jobs and other intervals keep
// out of each other's spread.
func TestSpreadFollowsNameOrder(t *testing.T) {
	const res = 50 * time.Millisecond
	var jobs []Job
	for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(600) {
		jobs = append(jobs, Job{Name: fmt.Sprintf("api-%03d", i), Interval: 30 * time.Second})
	}
	jobs = append(jobs, Job{Name: "nightly", Schedule: "@daily"},
		Job{Name: "slow-a", Interval: time.Minute}, Job{Name: "slow-b", Interval: time.Minute})
	off := Spread(jobs, res)
	for i := range 600 {
		name := fmt.Sprintf("api-%03d", i)
		if want := time.Duration(i) * 50 * time.Millisecond; off[name] != want {
			t.Errorf("%s at offset %v, want %v (name order, 600 checks over 30 s)", name, off[name], want)
		}
	}
	if off["slow-a"] != 0 || off["slow-b"] != 30*time.Second {
		t.Errorf("a minute's two checks at %v and %v, want 0 and 30s", off["slow-a"], off["slow-b"])
	}
	if _, ok := off["nightly"]; ok {
		t.Error("a cron job was given an offset")
	}
	reversed := slices.Clone(jobs)
	slices.Reverse(reversed)
	again := Spread(reversed, res)
	if !maps.Equal(off, again) {
		t.Error("the offsets depend on the order jobs are listed in")
	}
	for name, o := range off {
		if o%res != 0 {
			t.Errorf("%s at %v: not on a slot", name, o)
		}
	}
}

// closingProbe counts Close calls.
type closingProbe struct {
	funcProbe
	closed *atomic.Int32
}

func (c closingProbe) Close() error { c.closed.Add(1); return nil }

// Probes that hold something (a browser) are closed when their scheduler
// stops, as a reload's old scheduler does.
func TestSchedulerStopClosesProbes(t *testing.T) {
	var closed atomic.Int32
	p := closingProbe{funcProbe(func(context.Context) Result { return up(0) }), &closed}
	s, err := NewScheduler([]Job{{Name: "a", Probe: p, Interval: time.Hour}, {Name: "b", Probe: funcProbe(func(context.Context) Result { return up(0) }), Interval: time.Hour}},
		SchedulerOptions{Sink: func(Report) {}})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.Stop(ctx)
	if closed.Load() != 1 {
		t.Fatalf("closed %d times", closed.Load())
	}
}

// A phase moves a job's slot on by that much within its interval: a
// cluster's locations look at a target in turn, not at once.
func TestPhaseMovesTheSlot(t *testing.T) {
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	next := func(phase time.Duration) time.Time {
		s, err := NewScheduler([]Job{{Name: "api-1", Probe: nil, Interval: 9 * time.Second, Phase: phase}},
			SchedulerOptions{Sink: func(Report) {}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.cancel()
		return s.cron.Entries()[0].Schedule.Next(at)
	}
	base := next(0)
	for _, tc := range []struct{ phase, want time.Duration }{{3 * time.Second, 3 * time.Second}, {6 * time.Second, 6 * time.Second}, {9 * time.Second, 0}} {
		got := next(tc.phase).Sub(base)
		if got < 0 {
			got += 9 * time.Second
		}
		if got != tc.want {
			t.Errorf("phase %s moved the slot by %s, want %s", tc.phase, got, tc.want)
		}
	}
}
