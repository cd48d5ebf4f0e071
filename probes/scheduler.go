package probes

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
)

// Job is one check to run on a schedule.
type Job struct {
	Name     string
	Probe    Probe
	Interval time.Duration // run every Interval, staggered; or
	Schedule string        // a cron spec (5 fields or @descriptor), in UTC
	Timeout  time.Duration // per run; capped at the interval
	// Phase moves an interval job's stable offset on (a cluster's
	// location i of n runs at i·interval/n, so n locations look at the
	// target n times per interval, not all at once).
	Phase time.Duration
}

// Report is one finished run, handed to the scheduler's sink.
type Report struct {
	Check    string
	Result   Result
	Due      time.Time // when the run was scheduled (or asked for)
	Started  time.Time // when it got a concurrency slot and began
	Finished time.Time
	Recheck  bool // run by RunNow, outside the schedule
}

// Lag is how late the run started against its due time.
func (r Report) Lag() time.Duration { return r.Started.Sub(r.Due) }

// SchedulerOptions configures a Scheduler.
type SchedulerOptions struct {
	Sink           func(Report)  // required; called from run goroutines, must not block for long
	Concurrency    int           // bound on runs in flight; default 256
	SlotResolution time.Duration // offsets are rounded to this; default 50ms
	// Offsets are the interval jobs' places in their intervals, before
	// their Phase: Spread over every check of the configuration, so that
	// each member of a cluster gives a check the same one whatever else it
	// runs (a check limited to one location must not move the others).
	// Nil: Spread of the jobs themselves.
	Offsets map[string]time.Duration
	// Now is the clock for the times the scheduler reports (due, started,
	// finished, last tick); default time.Now. The cron library fires on
	// the real clock.
	Now    func() time.Time
	Logger *slog.Logger
}

// Scheduler runs Jobs on their schedules with bounded concurrency and hands
// every Report to the sink. It knows nothing of what the results mean.
type Scheduler struct {
	opts    SchedulerOptions
	cron    *cron.Cron
	checks  map[string]*scheduled
	sem     chan struct{}
	ctx     context.Context // cancelled to abort runs still going at Stop's deadline
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex // guards stopped against wg.Add
	stopped bool

	lastTick atomic.Int64 // unix nanos of the last cron firing
	runs     atomic.Uint64
	skipped  atomic.Uint64
}

type scheduled struct {
	job     Job
	timeout time.Duration
	running atomic.Bool
}

// NewScheduler validates the jobs and prepares their cron entries; nothing
// runs before Start.
func NewScheduler(jobs []Job, opts SchedulerOptions) (*Scheduler, error) {
	if opts.Sink == nil {
		return nil, fmt.Errorf("scheduler: a sink is required")
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 256
	}
	if opts.SlotResolution <= 0 {
		opts.SlotResolution = 50 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Scheduler{
		opts: opts, checks: make(map[string]*scheduled, len(jobs)),
		sem: make(chan struct{}, opts.Concurrency), ctx: ctx, cancel: cancel,
	}
	cl := cronLogger{opts.Logger}
	s.cron = cron.New(cron.WithLocation(time.UTC), cron.WithLogger(cl),
		cron.WithChain(cron.Recover(cl), cron.SkipIfStillRunning(cl)))
	if err := s.addJobs(jobs); err != nil {
		cancel()
		return nil, err
	}
	return s, nil
}

type slotKey struct{ interval, offset time.Duration }

func (s *Scheduler) addJobs(jobs []Job) error {
	slots := map[slotKey][]*scheduled{}
	offsets := s.opts.Offsets
	if offsets == nil {
		offsets = Spread(jobs, s.opts.SlotResolution)
	}
	for _, j := range jobs {
		if _, dup := s.checks[j.Name]; dup {
			return fmt.Errorf("scheduler: duplicate job %q", j.Name)
		}
		c := &scheduled{job: j}
		s.checks[j.Name] = c
		switch {
		case j.Schedule != "":
			sched, err := cron.ParseStandard(j.Schedule)
			if err != nil {
				return fmt.Errorf("scheduler: job %q: schedule %q: %w", j.Name, j.Schedule, err)
			}
			next := sched.Next(s.opts.Now().UTC())
			c.timeout = capTimeout(j.Timeout, sched.Next(next).Sub(next))
			s.cron.Schedule(sched, cron.FuncJob(func() {
				now := s.tick()
				s.dispatch(c, now.Truncate(time.Second), false)
			}))
		case j.Interval > 0:
			c.timeout = capTimeout(j.Timeout, j.Interval)
			off := (offsets[j.Name] + j.Phase%j.Interval) % j.Interval
			k := slotKey{j.Interval, off - off%s.opts.SlotResolution}
			slots[k] = append(slots[k], c)
		default:
			return fmt.Errorf("scheduler: job %q has neither interval nor schedule", j.Name)
		}
	}
	for k, members := range slots {
		sched := slotSchedule(k)
		s.cron.Schedule(sched, cron.FuncJob(func() {
			due := sched.Prev(s.tick())
			for _, c := range members {
				s.dispatch(c, due, false)
			}
		}))
	}
	return nil
}

func capTimeout(t, interval time.Duration) time.Duration {
	if t <= 0 || t > interval {
		return interval
	}
	return t
}

func (s *Scheduler) tick() time.Time {
	now := s.opts.Now().UTC()
	s.lastTick.Store(now.UnixNano())
	return now
}

// Start begins scheduling.
func (s *Scheduler) Start() { s.tick(); s.cron.Start() }

// LastTick is when the scheduler last fired (or started): liveness evidence.
func (s *Scheduler) LastTick() time.Time { return time.Unix(0, s.lastTick.Load()).UTC() }

// Counts returns runs started and runs skipped because the previous run of
// the same check was still going.
func (s *Scheduler) Counts() (runs, skipped uint64) { return s.runs.Load(), s.skipped.Load() }

// RunNow runs a check at once, outside its schedule (confirmation
// re-checks). It returns false when the check is unknown, already running,
// or the scheduler is stopping.
func (s *Scheduler) RunNow(name string) bool {
	c, ok := s.checks[name]
	if !ok {
		return false
	}
	return s.dispatch(c, s.opts.Now().UTC(), true)
}

// dispatch starts one run unless the check is still running from before.
func (s *Scheduler) dispatch(c *scheduled, due time.Time, recheck bool) bool {
	if !c.running.CompareAndSwap(false, true) {
		s.skipped.Add(1)
		return false
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		c.running.Store(false)
		return false
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go s.run(c, due, recheck)
	return true
}

func (s *Scheduler) run(c *scheduled, due time.Time, recheck bool) {
	defer s.wg.Done()
	defer c.running.Store(false)
	select {
	case s.sem <- struct{}{}:
	case <-s.ctx.Done():
		return
	}
	defer func() { <-s.sem }()
	s.runs.Add(1)
	rep := Report{Check: c.job.Name, Due: due, Started: s.opts.Now().UTC(), Recheck: recheck}
	ctx, cancel := context.WithTimeout(s.ctx, c.timeout)
	rep.Result = safeRun(ctx, c.job.Probe)
	cancel()
	rep.Finished = s.opts.Now().UTC()
	s.opts.Sink(rep)
}

// safeRun turns a probe panic into a Down result so one buggy probe cannot
// take the monitor down with it.
func safeRun(ctx context.Context, p Probe) (r Result) {
	defer func() {
		if v := recover(); v != nil {
			r = down(ReasonInternal, 0, "probe panicked: %v", v)
		}
	}()
	return p.Run(ctx)
}

// Stop stops scheduling and waits for runs in flight. When ctx ends first,
// the remaining runs are cancelled (they report timeouts) and waited for.
func (s *Scheduler) Stop(ctx context.Context) {
	<-s.cron.Stop().Done()
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancel()
		<-done
	}
	s.cancel()
	// Probes that hold something (a browser) let it go with their
	// scheduler: a reload's new scheduler has its own.
	for _, c := range s.checks {
		if cl, ok := c.job.Probe.(io.Closer); ok {
			_ = cl.Close()
		}
	}
}

// cronLogger adapts slog to robfig/cron's Logger; only errors are worth a line.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(string, ...any) {}

func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("scheduler: "+msg, append(kv, "error", err)...)
}
