package probes

import (
	"bytes"
	"context"
	"net"
	"time"
)

const bannerLimit = 4096

// TCP connects to host:port, optionally sends a line and expects a banner
// substring in what the server writes back.
type TCP struct {
	addr   string
	send   string
	banner string
	max    time.Duration
	dialer *net.Dialer
}

func newTCP(s Spec, o Options) (Probe, error) {
	if _, _, err := net.SplitHostPort(s.Target); err != nil {
		return nil, fieldErr("target", "must be host:port: %v", err)
	}
	e := s.expect()
	return &TCP{addr: s.Target, send: s.Send, banner: e.Banner, max: e.MaxLatency, dialer: o.dialer()}, nil
}

// Run dials and, when configured, exchanges a banner.
func (p *TCP) Run(ctx context.Context) Result {
	start := time.Now()
	conn, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return classifyNetErr(ctx, err, elapsed(start))
	}
	defer conn.Close()
	connect := elapsed(start)
	if p.send == "" && p.banner == "" {
		r := slowCheck(up(connect), p.max)
		r.detail("connect_ms", ms(connect))
		return r
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if p.send != "" {
		if _, err := conn.Write([]byte(p.send)); err != nil {
			return classifyNetErr(ctx, err, elapsed(start))
		}
	}
	got, err := readUntil(conn, []byte(p.banner))
	lat := elapsed(start)
	if !bytes.Contains(got, []byte(p.banner)) {
		// Silence is a timeout; a different greeting is a mismatch even when
		// the server keeps the connection open.
		if len(got) == 0 && err != nil && isTimeout(err) {
			return down(ReasonTimeout, lat, "no banner %q before deadline", p.banner)
		}
		return down(ReasonBannerMismatch, lat, "banner %q not in %q", p.banner, truncate(got, 80))
	}
	r := slowCheck(up(lat), p.max)
	r.detail("connect_ms", ms(connect))
	return r
}

// readUntil reads until want appears, EOF, an error or the limit.
func readUntil(c net.Conn, want []byte) ([]byte, error) {
	buf := make([]byte, 0, 512)
	tmp := make([]byte, 512)
	for len(buf) < bannerLimit {
		n, err := c.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if len(want) > 0 && bytes.Contains(buf, want) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
