package monitor

import (
	"sync"

	"github.com/outpost-status/outpost/probes"
)

// queue hands probe reports to the engine's goroutine. A probe never
// blocks on it and no report is dropped: when the engine falls behind, the
// queue grows and the next step takes everything waiting (batches grow).
// Only beyond maxQueued, which no healthy configuration reaches, are the
// oldest shed, and counted.
type queue struct {
	mu      sync.Mutex
	items   []probes.Report
	shed    int
	ready   chan struct{} // has an element when items is not empty
	maxSize int
}

// maxQueued bounds the queue: a full minute of 20,000 checks a second.
const maxQueued = 1_200_000

func newQueue() *queue { return &queue{ready: make(chan struct{}, 1), maxSize: maxQueued} }

// put adds a report and wakes the consumer.
func (q *queue) put(r probes.Report) {
	q.mu.Lock()
	if len(q.items) >= q.maxSize {
		q.items = q.items[1:]
		q.shed++
	}
	q.items = append(q.items, r)
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
	q.items, q.shed = nil, 0
	return items, shed
}
