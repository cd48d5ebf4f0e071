package probes

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"
)

// Defaults for certificate expiry: warn a month ahead, page a week ahead.
const (
	defaultWarnDays     = 30
	defaultCriticalDays = 7
)

// TLS handshakes with host:port, verifies the chain and hostname, and judges
// the leaf certificate's remaining lifetime.
type TLS struct {
	addr     string
	cfg      *tls.Config
	warn     time.Duration
	critical time.Duration
	now      func() time.Time
	dialer   *net.Dialer
}

func newTLS(s Spec, o Options) (Probe, error) {
	host, _, err := net.SplitHostPort(s.Target)
	if err != nil {
		return nil, fieldErr("target", "must be host:port: %v", err)
	}
	warn, crit, err := expiryDays(s)
	if err != nil {
		return nil, err
	}
	cfg, err := clientTLS(s, o)
	if err != nil {
		return nil, err
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	return &TLS{addr: s.Target, cfg: cfg, warn: warn, critical: crit, now: time.Now, dialer: o.dialer()}, nil
}

// Run performs the handshake and inspects the leaf certificate.
func (p *TLS) Run(ctx context.Context) Result {
	start := time.Now()
	d := tls.Dialer{NetDialer: p.dialer, Config: p.cfg}
	conn, err := d.DialContext(ctx, "tcp", p.addr)
	lat := elapsed(start)
	if err != nil {
		return classifyNetErr(ctx, err, lat)
	}
	defer conn.Close()
	state := conn.(*tls.Conn).ConnectionState()
	if len(state.PeerCertificates) == 0 {
		return down(ReasonTLSError, lat, "server sent no certificate")
	}
	leaf := state.PeerCertificates[0]
	left := leaf.NotAfter.Sub(p.now())
	var r Result
	switch {
	case left <= 0:
		r = down(ReasonCertExpired, lat, "certificate expired %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	case left < p.critical:
		r = down(ReasonCertExpiring, lat, "certificate expires in %s", days(left))
	case left < p.warn:
		r = degraded(ReasonCertExpiring, lat, "certificate expires in %s", days(left))
	default:
		r = up(lat)
	}
	r.detail("issuer", leaf.Issuer.String())
	r.detail("not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	r.detail("days_left", int(left.Hours()/24))
	return r
}

// expiryDays reads warn_days and critical_days (certificates, domains).
func expiryDays(s Spec) (warn, critical time.Duration, err error) {
	w, c := s.WarnDays, s.CriticalDays
	if w == 0 {
		w = defaultWarnDays
	}
	if c == 0 {
		c = defaultCriticalDays
	}
	if w < 0 || c < 0 || c > w {
		return 0, 0, fieldErr("critical_days", "must be between 0 and warn_days (%d), got %d", w, c)
	}
	const day = 24 * time.Hour
	return time.Duration(w) * day, time.Duration(c) * day, nil
}

func days(d time.Duration) string { return fmt.Sprintf("%.1f days", d.Hours()/24) }
