package probes

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// maxHeaderBytes bounds the head of an HTTP answer (and a WebSocket
// handshake's): net/http would read 10 MB of headers from a hostile peer.
const maxHeaderBytes = 64 << 10

// errTooLarge is what a bounded read returns once the peer has sent more
// than the run may read; the run reports it as body_too_large.
var errTooLarge = errors.New("the peer sent more than the run may read")

// readLimited reads all of r if it holds at most limit bytes. hint is the
// announced size (-1 if unknown). The buffer doubles up to 64 KiB, then
// grows to the limit in one step, so that whatever the peer sends a run
// allocates at most limit + 128 KiB here (io.ReadAll's doubling would
// allocate twice the limit).
func readLimited(r io.Reader, limit, hint int64) ([]byte, error) {
	size := int64(4 << 10)
	if hint >= 0 {
		size = hint + 1 // one more, to see the end without growing
	}
	buf := make([]byte, 0, min(size, limit+1))
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return nil, fmt.Errorf("%w: more than %d bytes", errTooLarge, limit)
			}
			next := int64(cap(buf)) * 2
			if next > 64<<10 {
				next = limit + 1
			}
			buf = append(make([]byte, 0, min(next, limit+1)), buf...)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			if int64(len(buf)) > limit {
				return nil, fmt.Errorf("%w: more than %d bytes", errTooLarge, limit)
			}
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// capConn is a connection that reads at most a budget of bytes: past it,
// Read fails with errTooLarge, whatever a library above reads for (a
// handshake's headers, frames of any size). The budget can be reset
// between phases of a run.
type capConn struct {
	net.Conn
	mu   sync.Mutex
	left int64
}

func (c *capConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	left := c.left
	c.mu.Unlock()
	if left <= 0 {
		return 0, errTooLarge
	}
	if int64(len(b)) > left {
		b = b[:left]
	}
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	c.left -= int64(n)
	c.mu.Unlock()
	return n, err
}

// allow sets how many more bytes may be read.
func (c *capConn) allow(n int64) {
	c.mu.Lock()
	c.left = n
	c.mu.Unlock()
}
