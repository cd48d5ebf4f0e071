package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"
)

// maxReply bounds one server reply (a multi-line EHLO answer is a few
// hundred bytes; a TLS handshake's certificates a few KiB): go-mail reads
// replies through net/textproto, which would grow a line without end.
const maxReply = 64 << 10

// errReplyTooLong is a server reply past maxReply.
var errReplyTooLong = errors.New("smtp: the server's reply is longer than 64 KiB")

// dial opens the connection of a session: bounded reads, deadlines
// within the batch's ctx (dctx is go-mail's, for the dial alone), and
// the TLS handshake for implicit TLS.
func dial(ctx, dctx context.Context, network, addr string, implicit bool, conf *tls.Config) (net.Conn, *boundedConn, error) {
	var d net.Dialer
	raw, err := d.DialContext(dctx, network, addr)
	if err != nil {
		return nil, nil, err
	}
	c := &boundedConn{Conn: raw, stop: func() bool { return false }}
	c.left.Store(maxReply)
	c.bind(ctx)
	if !implicit {
		return c, c, nil
	}
	tc := tls.Client(c, conf)
	if err := tc.HandshakeContext(dctx); err != nil {
		_ = c.Close()
		return nil, nil, fmt.Errorf("tls handshake: %w", err)
	}
	return tc, c, nil
}

// bind ties the connection to the context of the batch it now serves (a
// session outlives its batch in the pool): its deadlines stay within
// ctx's, and ctx's end ends whatever read or write is waiting.
func (c *boundedConn) bind(ctx context.Context) {
	c.stop()
	raw := c.Conn
	c.ctx = ctx
	c.stop = context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
}

// unbind frees an idle session from its last batch's context.
func (c *boundedConn) unbind() {
	c.stop()
	c.ctx, c.stop = context.Background(), func() bool { return false }
}

// boundedConn is a connection whose every reply is read up to maxReply
// bytes (SMTP is one reply per command: each write starts a new budget)
// and whose deadlines never pass its context's.
type boundedConn struct {
	net.Conn
	ctx  context.Context
	left atomic.Int64
	stop func() bool
}

func (c *boundedConn) Read(p []byte) (int, error) {
	left := c.left.Load()
	if left <= 0 {
		return 0, errReplyTooLong
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := c.Conn.Read(p)
	c.left.Add(-int64(n))
	return n, err
}

func (c *boundedConn) Write(p []byte) (int, error) {
	c.left.Store(maxReply)
	return c.Conn.Write(p)
}

// SetDeadline keeps go-mail's per-message deadline within the batch's.
func (c *boundedConn) SetDeadline(t time.Time) error { return c.Conn.SetDeadline(c.clamp(t)) }

// SetReadDeadline is clamped like SetDeadline.
func (c *boundedConn) SetReadDeadline(t time.Time) error { return c.Conn.SetReadDeadline(c.clamp(t)) }

// SetWriteDeadline is clamped like SetDeadline.
func (c *boundedConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.clamp(t))
}

func (c *boundedConn) clamp(t time.Time) time.Time {
	if c.ctx.Err() != nil {
		return time.Unix(1, 0)
	}
	if d, ok := c.ctx.Deadline(); ok && (t.IsZero() || d.Before(t)) {
		return d
	}
	return t
}

func (c *boundedConn) Close() error {
	c.stop()
	return c.Conn.Close()
}
