package store

import "time"

// MaxRetryAfter bounds how long a server's Retry-After is honoured: a
// day, so a misconfigured answer cannot park a delivery for good.
const MaxRetryAfter = 24 * time.Hour

// Backoff is the one retry rule of every delivery loop (channels outside
// the log, webhook subscribers inside it). After attempt n fails, the
// wait is Steps[n-1]; once the steps run out, the last one again when
// Repeat, else no attempt is left. A server's Retry-After replaces the
// step (at most MaxRetryAfter). The step is stretched by jitter, a factor
// the caller draws (1 or 0: none), since applying an entry draws no
// randomness.
type Backoff struct {
	Steps  []time.Duration `json:"steps"`
	Repeat bool            `json:"repeat,omitempty"`
}

// Next is the wait after attempts failed attempts; ok is false when no
// attempt is left.
func (b Backoff) Next(attempts int, retryAfter time.Duration, jitter float64) (wait time.Duration, ok bool) {
	i := max(attempts-1, 0)
	if i >= len(b.Steps) {
		if !b.Repeat || len(b.Steps) == 0 {
			return 0, false
		}
		i = len(b.Steps) - 1
	}
	if retryAfter > 0 {
		return min(retryAfter, MaxRetryAfter), true
	}
	if jitter <= 0 {
		jitter = 1
	}
	return time.Duration(float64(b.Steps[i]) * jitter), true
}
