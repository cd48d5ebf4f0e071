package probes

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// WebSocket opens a WebSocket (ws:// or wss://), checks the handshake's
// status and subprotocol, and optionally sends a text message and expects
// a reply containing a substring, all within the check's timeout.
type WebSocket struct {
	url      string
	headers  http.Header
	protocol string
	send     string
	expect   string
	max      time.Duration
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
	wd := &websocket.Dialer{NetDialContext: d.DialContext, TLSClientConfig: tlsCfg} // the check's context bounds the handshake
	if s.Subprotocol != "" {
		wd.Subprotocols = []string{s.Subprotocol}
	}
	return &WebSocket{url: s.Target, headers: h, protocol: s.Subprotocol, send: s.Send, expect: s.Expect.Message,
		max: s.Expect.MaxLatency, dialer: wd}, nil
}

// Run dials and, when configured, exchanges one message.
func (p *WebSocket) Run(ctx context.Context) Result {
	start := time.Now()
	conn, resp, err := p.dialer.DialContext(ctx, p.url, p.headers)
	if err != nil {
		lat := elapsed(start)
		if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
			return down(ReasonStatusMismatch, lat, "handshake answered %d, not 101", resp.StatusCode)
		}
		return classifyNetErr(ctx, err, lat)
	}
	defer conn.Close()
	handshake := elapsed(start)
	if p.protocol != "" && conn.Subprotocol() != p.protocol {
		return down(ReasonStatusMismatch, handshake, "subprotocol %q, not %q", conn.Subprotocol(), p.protocol)
	}
	if p.send == "" && p.expect == "" {
		r := slowCheck(up(handshake), p.max)
		r.detail("handshake_ms", ms(handshake))
		return r
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetWriteDeadline(dl)
		_ = conn.SetReadDeadline(dl)
	}
	if p.send != "" {
		if err := conn.WriteMessage(websocket.TextMessage, []byte(p.send)); err != nil {
			return classifyNetErr(ctx, err, elapsed(start))
		}
	}
	var seen []string
	for p.expect != "" {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			lat := elapsed(start)
			got := truncate([]byte(strings.Join(seen, " | ")), 80)
			if isTimeout(err) {
				return down(ReasonTimeout, lat, "no message containing %q before the deadline (got %q)", p.expect, got)
			}
			if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return down(ReasonBodyMismatch, lat, "closed before a message containing %q (got %q)", p.expect, got)
			}
			return classifyNetErr(ctx, err, lat)
		}
		if strings.Contains(string(msg), p.expect) {
			break
		}
		seen = append(seen, string(msg))
	}
	lat := elapsed(start)
	r := slowCheck(up(lat), p.max)
	r.detail("handshake_ms", ms(handshake))
	return r
}
