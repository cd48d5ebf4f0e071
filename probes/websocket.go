package probes

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// WebSocket opens a WebSocket (ws:// or wss://), checks the handshake's
// status and subprotocol, and optionally sends a text message and expects
// a reply containing a substring, all within the check's timeout. A run
// reads at most maxHeaderBytes of handshake and maxBody bytes of frames.
type WebSocket struct {
	url      string
	headers  http.Header
	protocol string
	send     string
	expect   string
	max      time.Duration
	maxBody  int64
	dialer   *websocket.Dialer
}

func newWebSocket(s Spec, o Options) (Probe, error) {
	u, err := url.Parse(s.Target)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return nil, fieldErr("target", "must be a ws:// or wss:// URL, got %q", s.Target)
	}
	tlsCfg, err := clientTLS(s, o)
	if err != nil {
		return nil, err
	}
	h := http.Header{"User-Agent": {"Outpost/" + o.Version}}
	for k, v := range s.Headers {
		h.Set(k, v)
	}
	d := o.dialer()
	// Every connection reads within a budget, from the first byte of the
	// handshake on: gorilla reads headers and frames of any size.
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &capConn{Conn: c, left: maxHeaderBytes}, nil
	}
	wd := &websocket.Dialer{NetDialContext: dial, TLSClientConfig: tlsCfg} // the check's context bounds the handshake
	if s.Subprotocol != "" {
		wd.Subprotocols = []string{s.Subprotocol}
	}
	maxBody := s.bodyLimit(defaultMaxBody)
	e := s.expect()
	return &WebSocket{url: s.Target, headers: h, protocol: s.Subprotocol, send: s.Send, expect: e.Message,
		max: e.MaxLatency, maxBody: maxBody, dialer: wd}, nil
}

// Run dials and, when configured, exchanges one message.
func (p *WebSocket) Run(ctx context.Context) Result {
	start := time.Now()
	conn, resp, err := p.dialer.DialContext(ctx, p.url, p.headers)
	if err != nil {
		lat := elapsed(start)
		if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
			return down(ReasonStatusMismatch, lat, "%s", handshakeFault(resp))
		}
		if errors.Is(err, errTooLarge) {
			return down(ReasonBodyTooLarge, lat, "the handshake's answer is longer than %d bytes", maxHeaderBytes)
		}
		return classifyNetErr(ctx, err, lat)
	}
	defer conn.Close()
	// Whatever the peer does, the deadline ends the run: a read or write
	// blocked in gorilla returns once the connection is closed.
	stop := context.AfterFunc(ctx, func() { conn.NetConn().Close() })
	defer stop()
	handshake := elapsed(start)
	if p.protocol != "" && conn.Subprotocol() != p.protocol {
		return down(ReasonStatusMismatch, handshake, "subprotocol %q, not %q", conn.Subprotocol(), p.protocol)
	}
	if p.send == "" && p.expect == "" {
		r := slowCheck(up(handshake), p.max)
		r.detail("handshake_ms", ms(handshake))
		return r
	}
	if cc := budget(conn.NetConn()); cc != nil {
		cc.allow(p.maxBody + 14) // + one frame header: the budget is for messages
	}
	conn.SetReadLimit(p.maxBody)
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetWriteDeadline(dl)
		_ = conn.SetReadDeadline(dl)
	}
	if p.send != "" {
		if err := conn.WriteMessage(websocket.TextMessage, []byte(p.send)); err != nil {
			return classifyNetErr(ctx, err, elapsed(start))
		}
	}
	if p.expect != "" {
		if r, failed := p.await(ctx, conn, start); failed {
			return r
		}
	}
	lat := elapsed(start)
	r := slowCheck(up(lat), p.max)
	r.detail("handshake_ms", ms(handshake))
	return r
}

// budget finds the capConn under a connection (wss:// wraps it in TLS).
func budget(c net.Conn) *capConn {
	if tc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = tc.NetConn()
	}
	cc, _ := c.(*capConn)
	return cc
}

// await reads messages until one contains the expected text. Messages are
// scanned in chunks, never held whole, so a run's memory does not grow
// with what the peer sends; what it may send is bounded by maxBody.
func (p *WebSocket) await(ctx context.Context, conn *websocket.Conn, start time.Time) (Result, bool) {
	want := []byte(p.expect)
	buf := make([]byte, max(32<<10, 2*len(want)))
	var seen []byte // the start of skipped messages, for the operator
	for {
		_, rd, err := conn.NextReader()
		if err == nil {
			var found bool
			found, err = scanFor(rd, want, buf, &seen)
			if found {
				return Result{}, false
			}
		}
		if err != nil {
			return p.readFailure(ctx, err, elapsed(start), truncate(seen, 80)), true
		}
	}
}

// readFailure judges why no expected message came.
func (p *WebSocket) readFailure(ctx context.Context, err error, lat time.Duration, got string) Result {
	switch {
	case errors.Is(err, websocket.ErrReadLimit), errors.Is(err, errTooLarge):
		return down(ReasonBodyTooLarge, lat, "the server sent more than max_body_bytes (%d bytes) without a message containing %q (got %q)",
			p.maxBody, p.expect, got)
	case isTimeout(err) || ctx.Err() != nil:
		return down(ReasonTimeout, lat, "no message containing %q before the deadline (got %q)", p.expect, got)
	case websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return down(ReasonBodyMismatch, lat, "closed before a message containing %q (got %q)", p.expect, got)
	}
	return classifyNetErr(ctx, err, lat)
}

// scanFor reads one message through buf and reports whether it contains
// want, keeping only len(want)-1 bytes between chunks; the first bytes of
// a message that does not are added to seen (up to 80 bytes in all).
func scanFor(r io.Reader, want, buf []byte, seen *[]byte) (bool, error) {
	keep, first := 0, true
	for {
		n, err := r.Read(buf[keep:])
		window := buf[:keep+n]
		if bytes.Contains(window, want) {
			return true, nil
		}
		if first && n > 0 && len(*seen) < 80 {
			if len(*seen) > 0 {
				*seen = append(*seen, " | "...)
			}
			*seen = append(*seen, window[:min(len(window), 80)]...)
			first = false
		}
		keep = min(len(want)-1, len(window))
		copy(buf, window[len(window)-keep:])
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// handshakeFault says what was wrong with a refused handshake: a status
// other than 101, or a 101 that is not a WebSocket upgrade for our key.
func handshakeFault(resp *http.Response) string {
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Sprintf("handshake answered %d, not 101", resp.StatusCode)
	}
	if u := resp.Header.Get("Upgrade"); !strings.EqualFold(u, "websocket") {
		return fmt.Sprintf("handshake answered 101 with Upgrade %q, not websocket", u)
	}
	if c := resp.Header.Get("Connection"); !strings.Contains(strings.ToLower(c), "upgrade") {
		return fmt.Sprintf("handshake answered 101 with Connection %q, not upgrade", c)
	}
	if resp.Request != nil {
		sum := sha1.Sum([]byte(resp.Request.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		if want, got := base64.StdEncoding.EncodeToString(sum[:]), resp.Header.Get("Sec-WebSocket-Accept"); got != want {
			return fmt.Sprintf("handshake answered 101 with Sec-WebSocket-Accept %q, not %q (the one our key calls for)", got, want)
		}
	}
	return "handshake answered 101 but was refused (an extension or subprotocol not asked for)"
}
