package cluster

import (
	"errors"
	"net"
	"sync"
	"time"
)

// A follower keeps its forward streams to the leader open between writes:
// a new mutual-TLS connection per forwarded batch was 8 % of a follower's
// CPU in the soak (docs/benchmarks.md). Each write takes a stream of its
// own (an idle one, or a new one), so concurrent writes never share one;
// after its answer the stream goes back, and at most maxIdleStreams per
// leader are kept.
const (
	// maxIdleStreams: a member's monitor writes one batch at a time; the
	// dispatchers and the admin API add a few now and then. Each idle
	// stream holds one of the leader's maxForwards tokens.
	maxIdleStreams = 2
	// streamIdle is how long a follower keeps an unused stream. The
	// leader keeps one for serveIdle, far longer, so it is the follower
	// that ends a quiet stream, never the leader under a follower's write.
	streamIdle = 30 * time.Second
	serveIdle  = 5 * time.Minute
	// aliveCheck is how long a follower reads a stream it takes from the
	// pool, to learn whether the leader closed it meanwhile (a restart):
	// a write sent on a closed stream gets no answer, and a write without
	// an answer has an unknown outcome. A deadline already past would not
	// do: Go then fails the read without looking at the socket
	// (internal/poll prepareRead), so an EOF waiting there goes unseen.
	aliveCheck = time.Millisecond
)

// streams is a follower's pool of forward streams, per leader id and
// address (a reload may move a member; a new leader is a new key).
type streams struct {
	dial func(id, addr string) (net.Conn, error)
	idle time.Duration // streamIdle; tests set less

	mu     sync.Mutex
	free   map[string][]*idleStream // id + " " + addr → idle streams, newest last
	closed bool
}

// idleStream is a stream in the pool, with the timer that closes it once
// it has been idle too long.
type idleStream struct {
	c     net.Conn
	timer *time.Timer
}

func newStreams(dial func(id, addr string) (net.Conn, error)) *streams {
	return &streams{dial: dial, idle: streamIdle, free: map[string][]*idleStream{}}
}

// take returns an open stream to the leader id at addr: the newest idle
// one that is still open, or a new one.
func (s *streams) take(id, addr string) (net.Conn, error) {
	for {
		c := s.pop(id + " " + addr)
		if c == nil {
			return s.dial(id, addr)
		}
		if stillOpen(c) {
			c.SetReadDeadline(time.Time{})
			return c, nil
		}
		c.Close()
	}
}

// pop takes the newest idle stream of key out of the pool (nil: none).
func (s *streams) pop(key string) net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.free[key]
	if len(list) == 0 {
		return nil
	}
	is := list[len(list)-1]
	s.dropLocked(key, len(list)-1)
	is.timer.Stop() // if it fired, expire finds the stream gone and leaves it
	return is.c
}

// put hands a stream that answered back for the next write, or closes it
// when enough are idle or the pool is closed.
func (s *streams) put(id, addr string, c net.Conn) {
	key := id + " " + addr
	s.mu.Lock()
	if s.closed || len(s.free[key]) >= maxIdleStreams {
		s.mu.Unlock()
		c.Close() // outside the lock: a TLS close may wait on its write
		return
	}
	is := &idleStream{c: c}
	is.timer = time.AfterFunc(s.idle, func() { s.expire(key, is) })
	s.free[key] = append(s.free[key], is)
	s.mu.Unlock()
}

// expire closes is if it is still idle in the pool.
func (s *streams) expire(key string, is *idleStream) {
	s.mu.Lock()
	found := false
	for i, x := range s.free[key] {
		if x == is {
			s.dropLocked(key, i)
			found = true
			break
		}
	}
	s.mu.Unlock()
	if found {
		is.c.Close()
	}
}

// dropLocked removes the i-th idle stream of key (mu held).
func (s *streams) dropLocked(key string, i int) {
	list := append(s.free[key][:i], s.free[key][i+1:]...)
	if len(list) == 0 {
		delete(s.free, key)
		return
	}
	s.free[key] = list
}

// close closes every idle stream; a stream in use is closed when its
// write hands it back.
func (s *streams) close() {
	s.mu.Lock()
	s.closed = true
	var idle []net.Conn
	for key, list := range s.free {
		for _, is := range list {
			is.timer.Stop()
			idle = append(idle, is.c)
		}
		delete(s.free, key)
	}
	s.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// stillOpen tells whether the leader left c open: nothing arrives on a
// quiet stream, so a read times out; an EOF, a reset or unexpected bytes
// mean it is no use. A read timeout leaves a TLS connection usable
// (crypto/tls keeps only errors that are not Temporary, and a timeout
// is).
func stillOpen(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(aliveCheck))
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
