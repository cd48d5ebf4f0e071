package notify

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// keyRates is the per-key throttle of a Subscribers loop (email: the
// per-recipient-domain rate), owned by the loop's goroutine: one token
// bucket per key, on the loop's clock. A throttled key is let go again
// only once it can take a whole chunk (its burst, at most a batch), so a
// big domain's mails leave in full batches sharing SMTP sessions, not one
// session per token.
type keyRates struct {
	limit   rate.Limit
	burst   int
	chunk   int
	buckets map[string]*rate.Limiter
	// wake is the earliest time a key refused in this pass has its chunk.
	wake time.Time
}

// maxIdleBuckets bounds the buckets kept between passes: beyond it, the
// full ones (which behave as new) are dropped.
const maxIdleBuckets = 1024

// newKeyRates returns nil (no throttle) for perSec <= 0.
func newKeyRates(perSec float64, batch int) *keyRates {
	if perSec <= 0 || math.IsInf(perSec, 0) || math.IsNaN(perSec) {
		return nil
	}
	burst := max(int(math.Ceil(perSec)), 1)
	return &keyRates{limit: rate.Limit(perSec), burst: burst, chunk: min(burst, max(batch, 1)), buckets: map[string]*rate.Limiter{}}
}

// room is how many deliveries key may start at now: its whole tokens if
// they make a chunk, else none (and the pass's wake-up is moved to when
// they will).
func (k *keyRates) room(key string, now time.Time) int {
	if k == nil {
		return math.MaxInt
	}
	b, ok := k.buckets[key]
	if !ok {
		return k.burst
	}
	tokens := b.TokensAt(now)
	if tokens >= float64(k.chunk) {
		return int(tokens)
	}
	at := now.Add(time.Duration((float64(k.chunk) - tokens) / float64(k.limit) * float64(time.Second)))
	if k.wake.IsZero() || at.Before(k.wake) {
		k.wake = at
	}
	return 0
}

// take spends n of key's tokens at now (n never more than room gave).
func (k *keyRates) take(key string, now time.Time, n int) {
	if k == nil || n <= 0 {
		return
	}
	b, ok := k.buckets[key]
	if !ok {
		b = rate.NewLimiter(k.limit, k.burst)
		k.buckets[key] = b
	}
	b.AllowN(now, n)
}

// pass starts a pass over the open deliveries: it forgets the last
// pass's wake-up and, when many keys are kept, the buckets that are
// full again.
func (k *keyRates) pass(now time.Time) {
	if k == nil {
		return
	}
	k.wake = time.Time{}
	if len(k.buckets) <= maxIdleBuckets {
		return
	}
	for key, b := range k.buckets {
		if b.TokensAt(now) >= float64(k.burst) {
			delete(k.buckets, key)
		}
	}
}

// wakeAt is when a key refused in this pass can go (zero: none was).
func (k *keyRates) wakeAt() time.Time {
	if k == nil {
		return time.Time{}
	}
	return k.wake
}
