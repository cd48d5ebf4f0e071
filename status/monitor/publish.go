package monitor

import (
	"sync/atomic"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// After a step: the snapshot it publishes, the re-checks it asks for, and
// the upkeep (pruning) the loop does between. The events' payloads are
// built where the step is applied (status/machine).

// publishMin is how often a step that changed nothing visible publishes.
const publishMin = time.Second

func (m *Monitor) logChanges(events []status.Event) {
	for _, ev := range events {
		attrs := []any{"event", string(ev.Type), "id", ev.ID}
		if ev.Incident != nil {
			attrs = append(attrs, "incident", ev.Incident.ID, "status", string(ev.Incident.Status))
		}
		if ev.Component != nil {
			attrs = append(attrs, "component", ev.Component.ID, "from", string(ev.Component.OldStatus), "to", string(ev.Component.NewStatus))
		}
		m.o.Logger.Info("state change", attrs...)
	}
}

// publish builds and stores a new snapshot, enriched with history.
func (m *Monitor) publish(now time.Time) {
	m.lastPublish = now
	var s *status.Snapshot
	// Under the machine's lock: the history's roll-ups and the engine's
	// state must be of the same step (today's cell adds the time since the
	// component's last roll-up).
	m.o.Machine.Read(func(e *status.Engine) {
		s = e.Snapshot(now, m.started)
		m.hist.enrich(s, e.State(), m.cfg.Load(), now)
	})
	if b := m.behind.Load(); b != 0 && s.DelayedSince.IsZero() {
		s.DelayedSince = time.Unix(0, b).UTC() // results reach the page late: say so
	}
	if !m.commitFailedAt.IsZero() {
		s.Delay(m.commitFailedAt) // nothing new can commit: what is shown may be out of date
	}
	if t := m.lagging.Load(); t != 0 {
		s.Delay(time.Unix(0, t)) // this member applies the cluster's entries late: say so
	}
	if t := m.isolated.Load(); t != 0 {
		s.Isolate(time.Unix(0, t)) // the last state the cluster agreed on
	}
	m.snap.Store(s)
	if m.o.Metrics != nil {
		m.o.Metrics.ObserveSnapshot(s)
	}
	select { // a wake, unless one is already waiting
	case m.published <- struct{}{}:
	default:
	}
}

// recheck runs a check again at rc.At, outside its schedule.
func (m *Monitor) recheck(rc status.Recheck, now time.Time) {
	m.timersMu.Lock()
	defer m.timersMu.Unlock()
	if m.stopping {
		return
	}
	if t, ok := m.timers[rc.Check]; ok {
		t.Stop()
	}
	m.timers[rc.Check] = time.AfterFunc(max(rc.At.Sub(now), 0), func() { m.sched.Load().RunNow(rc.Check) })
}

func (m *Monitor) stopTimers() {
	m.timersMu.Lock()
	defer m.timersMu.Unlock()
	m.stopping = true
	for _, t := range m.timers {
		t.Stop()
	}
}

// prune removes expired raw results in small transactions.
func (m *Monitor) prune() {
	now := m.o.Now().UTC()
	for i := 0; i < 50; i++ {
		res, err := m.o.Log.Apply(store.Entry{At: now, Prune: &store.Prune{RawRetention: m.cfg.Load().Storage.RawRetention, Budget: 2000}})
		if err != nil {
			m.o.Logger.Error("prune failed", "error", err)
			return
		}
		if !res.More {
			return
		}
	}
}

// SetIsolated says since when this member of a cluster is cut off from
// the others (zero: it is not); the page says so from the next snapshot,
// published at once.
func (m *Monitor) SetIsolated(since time.Time) { m.setNotice(&m.isolated, since) }

// SetLagging says since when this member of a cluster applies the
// cluster's entries late (zero: it keeps up): the page says monitoring is
// delayed since then, from the next snapshot, published at once.
func (m *Monitor) SetLagging(since time.Time) { m.setNotice(&m.lagging, since) }

// setNotice keeps a notice's time (unix nanos, 0 for none) and, when it
// changed, wakes the loop to publish.
func (m *Monitor) setNotice(v *atomic.Int64, since time.Time) {
	var n int64
	if !since.IsZero() {
		n = since.UnixNano()
	}
	if v.Swap(n) == n {
		return
	}
	select {
	case m.notices <- struct{}{}:
	default:
	}
}

// Isolated is since when this member is cut off from the others (zero
// while it is not).
func (m *Monitor) Isolated() time.Time {
	if n := m.isolated.Load(); n != 0 {
		return time.Unix(0, n).UTC()
	}
	return time.Time{}
}
