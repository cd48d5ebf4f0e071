package monitor

import (
	"sync"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
)

// queue hands probe reports to the engine's goroutine. A probe never
// blocks on it and no report is dropped: when the engine falls behind, the
// queue grows and the next step takes everything waiting (batches grow).
// Only beyond maxQueued, which no healthy configuration reaches, are the
// oldest shed, and counted.
//
// It also tells the loop how soon what it holds must be written: a report
// that can move something people see (a failure, the runs after one that
// recovery counts, a confirmation round's answer) is urgent; an up after
// ups is routine, and may wait longer for company (Options.RoutineWindow):
// at steady state nearly every result is routine, and each commit costs
// fsyncs (three files on a cluster member) whatever it carries.
type queue struct {
	mu      sync.Mutex
	items   []probes.Report
	shed    int
	ready   chan struct{} // has an element when items is not empty
	maxSize int
	urgent  bool           // an urgent report waits
	settle  map[string]int // check → its ups still urgent after a failure
}

// settleRuns is how many ups after a failure stay urgent: recovery
// thresholds count them, and a recovery's announcement should not wait
// for the routine window (thresholds above it are rare and wait at most
// that window a run).
const settleRuns = 10

// maxQueued bounds the queue: a full minute of 20,000 checks a second.
const maxQueued = 1_200_000

func newQueue() *queue {
	return &queue{ready: make(chan struct{}, 1), maxSize: maxQueued, settle: map[string]int{}}
}

// put adds a report and wakes the consumer.
func (q *queue) put(r probes.Report) {
	q.mu.Lock()
	if len(q.items) >= q.maxSize {
		q.items = q.items[1:]
		q.shed++
	}
	q.items = append(q.items, r)
	if q.isUrgent(r) {
		q.urgent = true
	}
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take returns everything waiting and how many were shed since the last
// take.
func (q *queue) take() ([]probes.Report, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	items, shed := q.items, q.shed
	q.items, q.shed, q.urgent = nil, 0, false
	return items, shed
}

// hasUrgent says whether an urgent report waits.
func (q *queue) hasUrgent() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.urgent
}

// isUrgent judges r and counts it against its check's settling runs
// (under q.mu).
func (q *queue) isUrgent(r probes.Report) bool {
	if r.Result.Outcome != probes.Up {
		q.settle[r.Check] = settleRuns
		return true
	}
	if n, ok := q.settle[r.Check]; ok {
		if n <= 1 {
			delete(q.settle, r.Check)
		} else {
			q.settle[r.Check] = n - 1
		}
		return true
	}
	return r.Recheck
}

// window is how long from now the results waiting may gather before
// their step: the batch window when one is urgent, else until the routine
// window's next multiple on the clock. Whole windows, not a window from
// the first result: every member of a cluster then writes its routine
// entry at the same moment, so the leader appends them together and
// every member applies them in one transaction (one fsync, not one per
// member's entry).
func (m *Monitor) window(urgent bool, now time.Time) time.Duration {
	if urgent {
		return m.o.BatchWindow
	}
	return untilMultiple(now, max(m.o.BatchWindow, min(m.o.RoutineWindow, time.Duration(m.lagLimit.Load())/4)))
}

// untilMultiple is how long from now until the next multiple of d on the
// clock (d itself when now is one).
func untilMultiple(now time.Time, d time.Duration) time.Duration {
	return d - time.Duration(now.UnixNano()%int64(d))
}

// maxEntryResults bounds the results of one entry: a follower forwards an
// entry to the leader in one frame of at most 16 MiB (status/cluster), and
// a member that kept a long partition's results (up to maxRetained) must
// still get them through, entry by entry; 5,000 leave each result 3 KiB.
const maxEntryResults = 5_000

// entryOf splits what waits into the next entry's results and the rest.
func entryOf(pending []status.CheckResult) (results, rest []status.CheckResult) {
	if len(pending) <= maxEntryResults {
		return pending, nil
	}
	return pending[:maxEntryResults], pending[maxEntryResults:]
}

// stepAll writes results as entries of at most maxEntryResults (a loop
// that ends writes what it still holds).
func (m *Monitor) stepAll(results []status.CheckResult) error {
	for len(results) > 0 {
		now, rest := entryOf(results)
		if _, err := m.step(status.Batch{Now: m.o.Now().UTC(), Results: now}); err != nil {
			return err
		}
		results = rest
	}
	return nil
}
