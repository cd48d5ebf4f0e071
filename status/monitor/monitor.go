// Package monitor runs Outpost's monitoring loop: the scheduler's results
// go to one goroutine that owns the engine, which group-commits each step
// to the store and publishes a new snapshot after the commit.
package monitor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/machine"
	"github.com/outpost-status/outpost/status/metrics"
	"github.com/outpost-status/outpost/status/statuspage"
	"github.com/outpost-status/outpost/status/store"
)

// Options configures a Monitor.
type Options struct {
	Config *config.Config
	Store  *store.Store
	// Machine applies entries to the engine and the store; default one
	// made from Store, Config and Route.
	Machine *machine.Machine
	// Log is the one way in for durable changes (the machine itself on one
	// node, raft in a cluster). Default Machine.
	Log store.Log
	// Node and Location name who ran the results this monitor writes (a
	// cluster's node id and location; empty on a single node).
	Node, Location string
	Logger         *slog.Logger
	// Now is the clock; tests inject one. Default time.Now.
	Now func() time.Time
	// Route names an event's destinations for the outbox.
	Route store.Router
	// BatchWindow is how long results gather before one commit when one
	// of them is urgent (see queue). Default 50ms.
	BatchWindow time.Duration
	// RoutineWindow is how long routine results (ups after ups) may
	// gather before one commit, which comes at the window's next multiple
	// on the clock; an urgent one cuts it to BatchWindow.
	// Default 1s, and never more than a quarter of how long a result may
	// wait before the page says monitoring is delayed.
	RoutineWindow time.Duration
	// PublishEvery bounds how stale a published snapshot may get when no
	// result arrives (freshness must reach the page). Default 5s.
	PublishEvery time.Duration
	// Metrics, when set, is fed every run, commit and snapshot.
	Metrics *metrics.Metrics
}

// Monitor owns the engine, the scheduler and the publishing of snapshots.
type Monitor struct {
	o       Options
	sched   atomic.Pointer[probes.Scheduler]
	cfg     atomic.Pointer[config.Config]
	reports *queue
	cmds    chan cmdReq
	reloads chan reloadReq
	snap    atomic.Pointer[status.Snapshot]
	started time.Time
	hist    *history

	// published signals (capacity one, so a burst is one wake) that a
	// new snapshot is out. The monitor calls no one: whoever acts on it
	// (the node) listens. A step's announcements are signalled by the
	// store (Store.Work), like every other entry's.
	published chan struct{}

	lastPublish time.Time // engine goroutine only
	lagChanged  bool      // engine goroutine only: behind was set or cleared

	timersMu sync.Mutex
	timers   map[string]*time.Timer
	stopping bool

	commits     atomic.Uint64
	commitNanos atomic.Int64 // last commit latency
	lastStep    atomic.Int64 // unix nanos of the last engine step
	commitErr   atomic.Pointer[string]
	// commitFailedAt is when the first of the failing commits failed (node
	// clock; zero while commits work): the public surfaces say monitoring
	// is delayed since then. Engine goroutine only.
	commitFailedAt time.Time
	// behind is when the oldest result of the last step was produced, while
	// the engine runs more than a check period behind its probes (unix
	// nanos; 0 when keeping up): the page then says monitoring is delayed.
	behind atomic.Int64
	// lagLimit is how long a result may wait for its step before the page
	// says monitoring is delayed: the staleness of the shortest check period
	// (found once per config, not per step).
	lagLimit atomic.Int64
	kinds    atomic.Pointer[map[string]string] // check name → kind, for metrics
	// isolated is since when this cluster member is cut off from the
	// others (unix nanos; 0 while it is not): every snapshot says so.
	isolated atomic.Int64
	lagging  atomic.Int64  // unix nanos: see SetLagging
	notices  chan struct{} // a notice changed: publish at once

	// In a cluster, entries are keyed: writer is this node and this
	// process's start, seq numbers its entries, and unsure is an entry
	// whose outcome was unknown, sent again first under its key. Engine
	// goroutine only.
	writer string
	seq    uint64
	unsure *store.Entry
}

type reloadReq struct {
	cfg  *config.Config
	done chan error
}

type cmdReq struct {
	cmds  []status.Command
	reply chan cmdAnswer
}

// New prepares the scheduler over the machine (made here from the store
// when Options.Machine is nil); nothing runs before Run.
func New(o Options) (*Monitor, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.BatchWindow <= 0 {
		o.BatchWindow = 50 * time.Millisecond
	}
	if o.RoutineWindow <= 0 {
		o.RoutineWindow = time.Second
	}
	if o.PublishEvery <= 0 {
		o.PublishEvery = 5 * time.Second
	}
	if o.Machine == nil {
		mc, err := machine.New(machine.Options{Store: o.Store, Model: o.Config.Model(), Route: o.Route, Site: Site(o.Config), Logger: o.Logger})
		if err != nil {
			return nil, err
		}
		o.Machine = mc
	}
	if o.Log == nil {
		o.Log = o.Machine
	}
	now := o.Now().UTC()
	writer, err := writerID(o.Node)
	if err != nil {
		return nil, err
	}
	m := &Monitor{o: o, reports: newQueue(), writer: writer,
		cmds: make(chan cmdReq), reloads: make(chan reloadReq), started: now, timers: map[string]*time.Timer{},
		published: make(chan struct{}, 1), notices: make(chan struct{}, 1),
		hist: newHistory(o.Store, o.Logger)}
	sched, err := m.newScheduler(o.Config)
	if err != nil {
		return nil, err
	}
	m.adopt(o.Config, sched)
	m.publish(now)
	return m, nil
}

// Site is what payloads and pages say about the site in cfg.
func Site(cfg *config.Config) statuspage.Site {
	c := cfg.Site
	return statuspage.Site{ID: c.ID, Name: c.Title, URL: c.URL, TimeZone: c.TimeZone, Location: c.Location}
}

func (m *Monitor) newScheduler(cfg *config.Config) (*probes.Scheduler, error) {
	jobs, offsets := jobsAt(cfg, m.o.Location)
	return probes.NewScheduler(jobs, probes.SchedulerOptions{Sink: m.sink, Concurrency: cfg.Scheduler.Concurrency, Logger: m.o.Logger, Now: m.o.Now,
		Offsets: offsets})
}

// adopt makes cfg and sched the ones in force.
func (m *Monitor) adopt(cfg *config.Config, sched *probes.Scheduler) {
	kinds := checkKinds(cfg)
	m.kinds.Store(&kinds)
	model := m.o.Machine.Model()
	limit := 2 * time.Minute
	for _, c := range model.Checks {
		limit = min(limit, time.Duration(max(model.StaleAfter, 1))*c.Every)
	}
	m.lagLimit.Store(int64(limit))
	m.cfg.Store(cfg)
	m.sched.Store(sched)
}

// checkKinds is each check's kind by name, canaries included. The two
// lists are walked as they are: a joined copy of 5,000 checks was 3.7 MB
// made at every start and reload to read two strings of each.
func checkKinds(cfg *config.Config) map[string]string {
	kinds := make(map[string]string, len(cfg.Checks)+len(cfg.Canaries))
	for _, list := range [][]config.Check{cfg.Checks, cfg.Canaries} {
		for i := range list {
			kinds[list[i].Name] = list[i].Kind
		}
	}
	return kinds
}

// sink hands a report to the engine goroutine without blocking the probe.
func (m *Monitor) sink(r probes.Report) {
	if m.o.Metrics != nil {
		m.o.Metrics.ObserveRun((*m.kinds.Load())[r.Check], r)
	}
	m.reports.put(r)
}

// drain moves what the queue holds into pending, counting any shed.
func (m *Monitor) drain(pending []status.CheckResult) []status.CheckResult {
	rs, shed := m.reports.take()
	if shed > 0 {
		m.o.Logger.Error("results shed: the engine fell a full queue behind", slog.Int("results", shed))
		if m.o.Metrics != nil {
			m.o.Metrics.ObserveDropped(shed)
		}
	}
	for _, r := range rs {
		pending = append(pending, toResult(r))
	}
	return pending
}

// Snapshot returns the latest published snapshot.
func (m *Monitor) Snapshot() *status.Snapshot { return m.snap.Load() }

// Published signals that a newer snapshot is out (read it with Snapshot).
// Signals coalesce: one receive may stand for several publishes.
func (m *Monitor) Published() <-chan struct{} { return m.published }

// Scheduler exposes the scheduler in force, for health reporting.
func (m *Monitor) Scheduler() *probes.Scheduler { return m.sched.Load() }

// Commits returns commits so far and the last commit's latency.
func (m *Monitor) Commits() (uint64, time.Duration) {
	return m.commits.Load(), time.Duration(m.commitNanos.Load())
}

// Do applies human commands in the engine's next step and waits for their
// replies (after the step is committed).
func (m *Monitor) Do(ctx context.Context, cmds ...status.Command) ([]status.Reply, error) {
	req := cmdReq{cmds: cmds, reply: make(chan cmdAnswer, 1)}
	select {
	case m.cmds <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.replies, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Run starts probing and runs the loop until ctx ends, then stops the
// scheduler (waiting for in-flight probes), commits what they reported,
// and returns.
func (m *Monitor) Run(ctx context.Context) error {
	m.sched.Load().Start()
	err := m.loop(ctx)
	m.stopTimers()
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	m.sched.Load().Stop(stopCtx)
	cancel()
	if ferr := m.stepAll(m.drain(nil)); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

func (m *Monitor) loop(ctx context.Context) error {
	// On the clock's multiples, as routine windows end: the step it makes
	// takes the routine results waiting, and a cluster's members must
	// write those at the same moment.
	publish := time.NewTimer(untilMultiple(time.Now(), m.o.PublishEvery))
	defer publish.Stop()
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	var pending []status.CheckResult
	var window <-chan time.Time
	var due time.Time // when window ends, while it is a batch's (not a retry's)
	retry := newBackoff()
	for {
		select {
		case <-ctx.Done():
			return m.stepAll(m.drain(pending))
		case <-m.reports.ready:
			// Nothing is taken yet: the step takes everything waiting
			// when the window ends, however much that has become. An
			// urgent report shortens a routine window; a retry's backoff
			// stays as it is.
			d := m.window(m.reports.hasUrgent(), time.Now())
			if at := time.Now().Add(d); window == nil || (!due.IsZero() && at.Before(due)) {
				window, due = time.After(d), at
			}
		case <-window:
			window, due = nil, time.Time{}
			if err := m.flush(&pending, &window, retry, nil); err != nil {
				return err
			}
		case req := <-m.cmds:
			window, due = nil, time.Time{}
			if err := m.flush(&pending, &window, retry, &req); err != nil {
				return err
			}
		case <-publish.C:
			publish.Reset(untilMultiple(time.Now(), m.o.PublishEvery))
			// A step with no results still moves time: maintenance windows
			// start and end, and staleness reaches the page. It carries
			// results retained from a failed commit, so a commit succeeds
			// only once they are in.
			due = time.Time{}
			if err := m.flush(&pending, &window, retry, nil); err != nil {
				return err
			}
		case <-m.notices:
			m.publish(m.o.Now().UTC())
		case <-m.o.Machine.Applied():
			// Steps applied by another writer (a replicated log) move
			// the page here too, and so do this loop's own results on a
			// cluster's follower, which its Log answers before its file
			// applied them; this loop's other steps are handled already.
			m.applied(m.o.Now().UTC())
		case req := <-m.reloads:
			req.done <- m.reload(req.cfg)
		case <-prune.C:
			m.prune()
		}
	}
}

// flush runs one step with the pending results (and the request's
// commands). When its commit fails, the results are kept for a retry
// after a backoff and the request is told nothing changed; only an error
// the loop cannot recover from is returned.
func (m *Monitor) flush(pending *[]status.CheckResult, window *<-chan time.Time, retry *backoff, req *cmdReq) error {
	*pending = m.drain(*pending)
	results, rest := entryOf(*pending)
	b := status.Batch{Now: m.o.Now().UTC(), Results: results}
	m.noteLag(b)
	if req != nil {
		b.Commands = req.cmds
	}
	ch, err := m.step(b)
	if err != nil {
		if req != nil {
			req.reply <- cmdAnswer{err: commandError(err)}
		}
		if errors.Is(err, errFatal) {
			return err
		}
		if errors.Is(err, store.ErrOtherModel) { // refused for good: no retry
			*pending, *window = nil, nil
			return nil
		}
		if errors.Is(err, errHeld) { // the resend carries them
			*pending, *window = rest, time.After(retry.next())
			return nil
		}
		// Nothing of the step is in force: its results wait for the next
		// attempt, so no announcement is lost.
		if len(*pending) > 0 && *window == nil {
			*pending, *window = m.keepForRetry(*pending), time.After(retry.next())
		}
		return nil
	}
	*pending, *window = rest, nil
	if len(rest) > 0 {
		*window = time.After(0) // the next entry at once
	}
	retry.reset()
	if req != nil {
		if len(ch.Replies) < len(req.cmds) {
			// An earlier try of this entry made the commands (the log
			// skipped this one, its key held): their replies were lost.
			req.reply <- cmdAnswer{err: status.ErrAnswerLost}
		} else {
			req.reply <- cmdAnswer{replies: ch.Replies}
		}
	}
	return nil
}

// noteLag records whether the engine runs behind its probes: the batch's
// oldest result waited longer than the allowed staleness of the shortest
// check period (as the engine judges silence).
func (m *Monitor) noteLag(b status.Batch) {
	if !m.commitFailedAt.IsZero() {
		// The results waited for a commit that failed, which the page says
		// already, since the first failure; a lag of their own would move
		// that notice back, and outlive the failure by a step.
		return
	}
	oldest := b.Now
	for _, r := range b.Results {
		if r.At.Before(oldest) {
			oldest = r.At
		}
	}
	if limit := time.Duration(m.lagLimit.Load()); len(b.Results) > 0 && b.Now.Sub(oldest) > limit {
		if m.behind.Load() == 0 {
			m.o.Logger.Warn("the engine runs behind its probes; the page says monitoring is delayed", slog.Duration("lag", b.Now.Sub(oldest)))
			m.lagChanged = true
		}
		m.behind.Store(oldest.UnixNano())
	} else if len(b.Results) > 0 && m.behind.Swap(0) != 0 {
		m.lagChanged = true
	}
}

func toResult(r probes.Report) status.CheckResult {
	return status.CheckResult{Check: r.Check, At: r.Finished, Result: r.Result}
}

// String describes the monitor for logs.
func (m *Monitor) String() string {
	return fmt.Sprintf("monitor(%d checks)", len(m.cfg.Load().Checks))
}

// writerID names this process as a writer of a cluster's log: the node
// and a random start id, so a restarted node's numbering does not meet
// its earlier one's ("" on a single node: its entries need no key).
func writerID(node string) (string, error) {
	if node == "" {
		return "", nil
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("writer id: %w", err)
	}
	return node + "/" + hex.EncodeToString(b[:]), nil
}
