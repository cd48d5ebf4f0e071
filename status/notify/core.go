package notify

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/outpost-status/outpost/status/store"
)

// The delivery core: the parts every delivery loop is made of, whether it
// posts to a channel (the Dispatcher's workers, in order, one at a time)
// or to subscribers (webhooks, fanned out, many at once). Each loop
// claims work from the store, sends outside any transaction, classifies
// the answer here, and records the outcome through the log; these parts
// are called by the loops, and never call back into them.

// Waker is a loop's one wake-up: Wake from anywhere (a commit, a finished
// attempt), Sleep in the loop between passes.
type Waker struct{ ch chan struct{} }

// NewWaker returns a waker with no wake-up pending.
func NewWaker() Waker { return Waker{ch: make(chan struct{}, 1)} }

// Wake ends the current or the next Sleep early; it never blocks.
func (w Waker) Wake() {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// Sleep waits up to d, or until a Wake or ctx ends; false when ctx ended.
func (w Waker) Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-w.ch:
	case <-t.C:
	}
	return ctx.Err() == nil
}

// MaxRetryAfter bounds how long a server's Retry-After is honoured (the
// store's bound, which the webhook rule applies inside the log).
const MaxRetryAfter = store.MaxRetryAfter

// Verdict is what an attempt's error means for the next one.
type Verdict struct {
	// Permanent: do not try again (a 4xx other than 408 and 429, a
	// message that cannot be built, a refused address).
	Permanent bool
	// RetryAfter is the wait the server asked for (429), at most
	// MaxRetryAfter; zero when it asked for none.
	RetryAfter time.Duration
}

// Judge classifies an attempt's error; nil is success. It is the one
// classification of every delivery loop.
func Judge(err error) Verdict {
	if err == nil {
		return Verdict{}
	}
	v := Verdict{Permanent: IsPermanent(err)}
	var ra *RetryAfterError
	if errors.As(err, &ra) && ra.After > 0 {
		v.RetryAfter = min(ra.After, MaxRetryAfter)
	}
	return v
}

// Slots keeps deliveries in flight: at most PerHost to one host at a
// time, and each delivery at most once in flight.
type Slots struct {
	PerHost int

	mu       sync.Mutex
	inflight map[uint64]bool
	hosts    map[string]int
}

// Busy reports a delivery in flight, or host's slots all taken ("": only
// the delivery is asked about).
func (s *Slots) Busy(seq uint64, host string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight[seq] || (host != "" && s.hosts[host] >= s.PerHost)
}

// Free says how many more deliveries host may take now.
func (s *Slots) Free(host string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(s.PerHost-s.hosts[host], 0)
}

// Full lists the hosts whose slots are all taken.
func (s *Slots) Full() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for h, n := range s.hosts {
		if n >= s.PerHost {
			out = append(out, h)
		}
	}
	return out
}

// Take claims a slot on host for seq; false when host is full.
func (s *Slots) Take(seq uint64, host string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hosts == nil {
		s.hosts, s.inflight = map[string]int{}, map[uint64]bool{}
	}
	if s.hosts[host] >= s.PerHost {
		return false
	}
	s.hosts[host]++
	s.inflight[seq] = true
	return true
}

// FreeHost gives back host's slot as soon as the answer is in, so the
// next request to it need not wait for the outcome's commit.
func (s *Slots) FreeHost(host string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hosts[host]--; s.hosts[host] <= 0 {
		delete(s.hosts, host)
	}
}

// Done ends seq's time in flight, once its outcome is committed.
func (s *Slots) Done(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inflight, seq)
}

// Drain returns first and whatever else ch holds right now, so outcomes
// that arrived together are committed in one entry; ok is false once ch
// is closed and empty.
func Drain[T any](ch <-chan T) (batch []T, ok bool) {
	first, ok := <-ch
	if !ok {
		return nil, false
	}
	batch = []T{first}
	for {
		select {
		case x, open := <-ch:
			if !open {
				return batch, true
			}
			batch = append(batch, x)
		default:
			return batch, true
		}
	}
}
