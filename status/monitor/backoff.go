package monitor

import "time"

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
