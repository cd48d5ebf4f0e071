package cluster

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The node connection: one listener on the node's cluster address, mutual
// TLS (TLSConfig), and a first byte that says what the stream carries, as
// Consul's RPC layer multiplexes raft and requests on one port.
const (
	streamRaft    byte = 'r'
	streamForward byte = 'f'
	streamStatus  byte = 's'
)

// handshakeTimeout bounds a connection's TLS handshake and first byte: a
// peer that connects and says nothing holds nothing for long.
const handshakeTimeout = 5 * time.Second

// Bounds on what strangers and members can hold. A connection is
// "sorting" from its accept until its first byte is read: anyone on the
// network can open one, so they are few, and one address may hold only a
// few of them, so a peer that connects and says nothing leaves room for
// the members (a connection over either bound is closed at once). A
// forward stream holds a goroutine, and a frame while one arrives, for
// as long as it lives: a member with more at once is answered busy and
// tries again. A follower keeps at most maxIdleStreams idle streams to
// the leader, so idle ones hold 2 tokens per member (16 in a cluster of
// nine); the rest serve writes in flight, as before streams were kept.
// Members are authenticated: a stranger never gets a token.
const (
	maxSorting        = 64
	maxSortingPerHost = 8
	maxForwards       = 64
)

// mux accepts node connections and sorts them by their first byte.
type mux struct {
	ln      net.Listener
	tls     *tls.Config
	log     *slog.Logger
	raft    chan net.Conn
	forward func(net.Conn, <-chan struct{}) // serves a forward stream until it ends or done closes
	status  func(net.Conn)                  // answers a member's view (this package's)
	busy    func(net.Conn)                  // answers a forwarded write over maxForwards
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup

	slots    sync.Mutex
	sorting  map[string]int        // address → connections sorting
	forwards chan struct{}         // a token per forward stream served
	live     map[net.Conn]struct{} // the forward streams served, woken by close
}

func newMux(ln net.Listener, cfg *tls.Config, log *slog.Logger, forward func(net.Conn, <-chan struct{}), status, busy func(net.Conn)) *mux {
	m := &mux{ln: ln, tls: cfg, log: log, raft: make(chan net.Conn), forward: forward, status: status, busy: busy, done: make(chan struct{}),
		sorting: map[string]int{}, forwards: make(chan struct{}, maxForwards), live: map[net.Conn]struct{}{}}
	m.wg.Add(1)
	go m.serve()
	return m
}

func (m *mux) serve() {
	defer m.wg.Done()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			m.log.Error("cluster listener failed", slog.Any("error", err))
			return
		}
		host := hostOf(c.RemoteAddr())
		if !m.admit(host) {
			c.Close()
			continue
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.sort(c, host)
		}()
	}
}

// admit takes a sorting slot for a connection from host, if both bounds
// leave one.
func (m *mux) admit(host string) bool {
	m.slots.Lock()
	defer m.slots.Unlock()
	total := 0
	for _, n := range m.sorting {
		total += n
	}
	if total >= maxSorting || m.sorting[host] >= maxSortingPerHost {
		return false
	}
	m.sorting[host]++
	return true
}

// release gives host's sorting slot back.
func (m *mux) release(host string) {
	m.slots.Lock()
	defer m.slots.Unlock()
	if m.sorting[host]--; m.sorting[host] <= 0 {
		delete(m.sorting, host)
	}
}

func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, _ := net.SplitHostPort(a.String())
	return host
}

// sort completes the handshake and hands the stream to raft or serves the
// forwarded write; a stranger's certificate ends it here. The sorting
// slot is held until the stream is handed on.
func (m *mux) sort(c net.Conn, host string) {
	sorted := false
	defer func() {
		if !sorted {
			m.release(host)
		}
	}()
	tc := tls.Server(c, m.tls)
	tc.SetDeadline(time.Now().Add(handshakeTimeout))
	var kind [1]byte
	if err := tc.Handshake(); err != nil {
		m.log.Warn("cluster connection refused", slog.String("remote", c.RemoteAddr().String()), slog.Any("error", err))
		c.Close()
		return
	}
	if _, err := tc.Read(kind[:]); err != nil {
		tc.Close()
		return
	}
	tc.SetDeadline(time.Time{})
	switch kind[0] {
	case streamRaft:
		sorted = true
		m.release(host)
		select {
		case m.raft <- tc:
		case <-m.done:
			tc.Close()
		}
	case streamForward:
		select {
		case m.forwards <- struct{}{}:
			sorted = true
			m.release(host)
			m.serveLive(tc)
			<-m.forwards
		default: // answered under the sorting slot, so these are bounded too
			m.busy(tc)
		}
	case streamStatus: // a small answer, written under the sorting slot
		m.status(tc)
	default:
		tc.Close()
	}
}

// serveLive serves a forward stream, which close ends: a follower keeps
// its stream open between writes, up to serveIdle.
func (m *mux) serveLive(c net.Conn) {
	m.slots.Lock()
	select {
	case <-m.done:
		m.slots.Unlock()
		c.Close()
		return
	default:
	}
	m.live[c] = struct{}{}
	m.slots.Unlock()
	defer func() {
		m.slots.Lock()
		delete(m.live, c)
		m.slots.Unlock()
	}()
	m.forward(c, m.done)
}

func (m *mux) close() {
	m.once.Do(func() {
		m.slots.Lock()
		close(m.done)
		for c := range m.live {
			// Wakes a stream waiting for its next frame: it says goodbye
			// and ends (serveForward); one applying a frame answers first.
			c.SetReadDeadline(time.Now())
		}
		m.slots.Unlock()
		m.ln.Close()
	})
	m.wg.Wait()
}

// layer is raft's StreamLayer over the mux: raft's accepted streams, and
// dialing a node's address with its node id as the name it must present.
type layer struct {
	m     *mux
	idAt  func(raft.ServerAddress) string // address → node id
	dial  *tls.Config
	local net.Addr
}

func (l *layer) Accept() (net.Conn, error) {
	select {
	case c := <-l.m.raft:
		return c, nil
	case <-l.m.done:
		return nil, errors.New("cluster listener closed")
	}
}

func (l *layer) Close() error { l.m.close(); return nil }

func (l *layer) Addr() net.Addr { return l.local }

func (l *layer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return dialNode(l.dial, l.idAt(address), string(address), streamRaft, timeout)
}

// dialNode opens a stream of kind to the node id at address, which must
// present id's certificate.
func dialNode(base *tls.Config, id, address string, kind byte, timeout time.Duration) (net.Conn, error) {
	if id == "" {
		return nil, fmt.Errorf("%s is no member's address", address)
	}
	cfg := base.Clone()
	cfg.ServerName = id
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", address, cfg)
	if err != nil {
		return nil, fmt.Errorf("dial node %s at %s: %w", id, address, err)
	}
	if _, err := c.Write([]byte{kind}); err != nil {
		c.Close()
		return nil, fmt.Errorf("dial node %s at %s: %w", id, address, err)
	}
	return c, nil
}
