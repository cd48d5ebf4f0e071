package monitor

import (
	"log/slog"
	"slices"
	"time"

	"github.com/outpost-status/outpost/status"
)

// backoff spaces the retries of a step whose commit failed: a full disk
// is not helped by a retry every 50 ms, and each retry rewrites the whole
// retained batch.
type backoff struct{ d time.Duration }

const (
	firstRetry = 500 * time.Millisecond
	lastRetry  = 5 * time.Second
)

func newBackoff() *backoff { return &backoff{} }

// next returns the delay before the next attempt, doubling up to lastRetry.
func (b *backoff) next() time.Duration {
	if b.d == 0 {
		b.d = firstRetry
	} else {
		b.d = min(2*b.d, lastRetry)
	}
	return b.d
}

// reset starts again from the first delay after a commit works.
func (b *backoff) reset() { b.d = 0 }

// maxRetained bounds the results kept across failing commits (a full disk
// for hours must not exhaust memory); beyond it the oldest are shed and
// counted.
const maxRetained = 100_000

// keepForRetry returns the results of a failed step to try again with the
// next one, shedding the oldest beyond maxRetained.
func (m *Monitor) keepForRetry(results []status.CheckResult) []status.CheckResult {
	if over := len(results) - maxRetained; over > 0 {
		m.o.Logger.Error("results shed while commits fail", slog.Int("results", over))
		if m.o.Metrics != nil {
			m.o.Metrics.ObserveDropped(over)
		}
		results = slices.Clone(results[over:])
	}
	return results
}
