package cluster

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// hostileMux serves the node connection of ams (cluster ams, nyc, sgp) on
// 127.0.0.1 with forward as the forwarded-write handler, and returns its
// address, a member's dialing config (nyc) and the certificates' folder.
func hostileMux(t *testing.T, forward func(net.Conn)) (string, *tls.Config) {
	t.Helper()
	addr, nyc, _ := servingMux(t, func(c net.Conn, _ <-chan struct{}) { forward(c) })
	return addr, nyc
}

// servingMux is hostileMux serving forward streams with forward (a
// leader's serveForward), and the mux, which a test may close.
func servingMux(t *testing.T, forward func(net.Conn, <-chan struct{})) (string, *tls.Config, *mux) {
	t.Helper()
	dir := certsDir(t, 30, "ams", "nyc", "sgp")
	ams := mustTLS(t, nodeConfig(t, filepath.Join(dir, "ca.pem"), dir, "ams"))
	nyc := mustTLS(t, nodeConfig(t, filepath.Join(dir, "ca.pem"), dir, "nyc"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := newMux(ln, ams, slog.New(slog.DiscardHandler), forward, func(c net.Conn) { c.Close() }, answerBusy)
	t.Cleanup(m.close)
	go func() { // raft's side: take every raft stream and hold it
		for {
			select {
			case c := <-m.raft:
				t.Cleanup(func() { c.Close() })
			case <-m.done:
				return
			}
		}
	}()
	return ln.Addr().String(), nyc, m
}

// dialFrom opens a TCP connection to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedBy tells whether the other side closed c within wait.
func closedBy(c net.Conn, wait time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(wait))
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// A peer that opens many connections and says nothing (no TLS, no byte)
// holds only a few of them: the rest are closed at once, not after the
// handshake's deadline, so neither goroutines nor sockets grow with it,
// and a member from another address still gets through meanwhile.
func TestSilentConnectionsAreBounded(t *testing.T) {
	addr, nyc := hostileMux(t, func(c net.Conn) { c.Close() })
	before := runtime.NumGoroutine()
	const flood = 200
	var conns []net.Conn
	for range flood {
		conns = append(conns, dialFrom(t, "127.0.0.2", addr))
	}
	open := 0
	for _, c := range conns {
		if !closedBy(c, 20*time.Millisecond) {
			open++
		}
	}
	if open > maxSortingPerHost {
		t.Errorf("%d of %d silent connections from one address still open, want at most %d", open, flood, maxSortingPerHost)
	}
	if grown := runtime.NumGoroutine() - before; grown > maxSortingPerHost+10 {
		t.Errorf("%d goroutines more for %d silent connections", grown, flood)
	}
	// A member from 127.0.0.1 is served while the flood holds its slots.
	c, err := dialNode(nyc, "ams", addr, streamRaft, 2*time.Second)
	if err != nil {
		t.Fatalf("a member during the flood: %v", err)
	}
	c.Close()
}

// A member that opens many forward streams and sends a length prefix and
// never the frame holds a bounded number of goroutines on the leader.
func TestForwardStreamsAreBounded(t *testing.T) {
	addr, nyc := hostileMux(t, func(c net.Conn) { // as serveForward: a frame that never ends
		defer c.Close()
		readFrame(c)
	})
	before := runtime.NumGoroutine()
	const streams = 300
	var conns []net.Conn
	for range streams {
		c, err := dialNode(nyc, "ams", addr, streamForward, 2*time.Second)
		if err != nil {
			continue // refused: what a bound does
		}
		t.Cleanup(func() { c.Close() })
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], maxFrame)
		c.Write(n[:])
		conns = append(conns, c)
	}
	deadline := time.Now().Add(3 * time.Second)
	grown := runtime.NumGoroutine() - before
	for grown > maxForwards+maxSortingPerHost+10 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		grown = runtime.NumGoroutine() - before
	}
	if grown > maxForwards+maxSortingPerHost+10 {
		t.Errorf("%d goroutines more for %d endless forward streams (%d dialed)", grown, streams, len(conns))
	}
}

// A frame's buffer grows with what arrives, not with what its prefix
// claims: a prefix of maxFrame followed by ten bytes allocates little.
func TestHugeLengthPrefixAllocatesLittle(t *testing.T) {
	var in bytes.Buffer
	binary.Write(&in, binary.BigEndian, uint32(maxFrame))
	in.WriteString("0123456789")
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	_, err := readFrame(&in)
	runtime.ReadMemStats(&ms1)
	if err == nil || err == io.EOF {
		t.Errorf("a frame cut short: %v, want an unexpected EOF", err)
	}
	if got := ms1.TotalAlloc - ms0.TotalAlloc; got > 1<<20 {
		t.Errorf("reading a 10-byte frame that claims %d bytes allocated %d bytes", maxFrame, got)
	}
}

// Strangers on the cluster port reach neither raft nor the forwarded
// writes: plain TCP, TLS without a certificate, another cluster's
// certificate. Each is closed within the handshake's deadline.
func TestStrangersOnTheClusterPort(t *testing.T) {
	served := make(chan struct{}, 10)
	addr, _ := hostileMux(t, func(c net.Conn) { served <- struct{}{}; c.Close() })
	theirs := certsDir(t, 30, "nyc")
	for _, tc := range []struct {
		name string
		cfg  *tls.Config // nil: plain TCP
	}{
		{"plain TCP", nil},
		{"TLS without a certificate", &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}},
		{"another cluster's nyc", stranger(t, theirs, "nyc")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := dialFrom(t, "127.0.0.3", addr)
			c := raw
			if tc.cfg != nil {
				tcl := tls.Client(raw, tc.cfg)
				tcl.SetDeadline(time.Now().Add(2 * time.Second))
				tcl.Handshake() // in TLS 1.3 the refusal comes with the first read
				c = tcl
			}
			c.Write([]byte{streamForward, 0, 0, 0, 1, '{'})
			if !closedBy(c, handshakeTimeout+time.Second) {
				t.Error("still open after the handshake's deadline")
			}
		})
	}
	select {
	case <-served:
		t.Error("a stranger's forwarded write was served")
	default:
	}
}
