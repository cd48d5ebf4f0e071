package web

import (
	"container/list"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// addrLimiter rate-limits per client: the IPv4 address, or the IPv6 /64
// (clientKey), since one host usually holds a whole /64 and could rotate
// addresses in it. It keeps the most recently seen clients and forgets the
// least recently seen one when full, so a spray of addresses cannot reset
// everyone's limit at once.
type addrLimiter struct {
	every time.Duration
	burst int
	max   int

	mu    sync.Mutex
	m     map[string]*list.Element // of *limitEntry
	order *list.List               // most recently used first
}

type limitEntry struct {
	key string
	lim *rate.Limiter
}

// maxClients bounds each limiter's memory (a few hundred bytes a client).
const maxClients = 10_000

// newFailLimiter limits failed authentication: 5 failures, then one per 12 s.
func newFailLimiter() *addrLimiter { return newAddrLimiter(12*time.Second, 5) }

func newAddrLimiter(every time.Duration, burst int) *addrLimiter {
	return &addrLimiter{every: every, burst: burst, max: maxClients, m: map[string]*list.Element{}, order: list.New()}
}

// get returns the limiter of ip's client.
func (f *addrLimiter) get(ip string) *rate.Limiter {
	key := clientKey(ip)
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.m[key]; ok {
		f.order.MoveToFront(e)
		return e.Value.(*limitEntry).lim
	}
	if f.order.Len() >= f.max {
		oldest := f.order.Back()
		f.order.Remove(oldest)
		delete(f.m, oldest.Value.(*limitEntry).key)
	}
	l := rate.NewLimiter(rate.Every(f.every), f.burst)
	f.m[key] = f.order.PushFront(&limitEntry{key: key, lim: l})
	return l
}

// refused reports a client that has used up its allowance of failures.
func (f *addrLimiter) refused(ip string) bool { return f.get(ip).Tokens() < 1 }

// failed counts a failure against ip's client.
func (f *addrLimiter) failed(ip string) { f.get(ip).Allow() }

// clientKey is who a request is counted against: the IPv4 address, or the
// IPv6 /64.
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}
