package probes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	probing "github.com/prometheus-community/pro-bing"
)

// icmpGap is the wait between echo requests of one run: short enough that
// a run of a few pings takes well under a second, long enough not to look
// like a flood.
const icmpGap = 100 * time.Millisecond

// ICMP sends count echo requests (IPv4 or IPv6) and judges the share lost
// and the average round trip. It uses unprivileged ICMP ("ping" sockets,
// which net.ipv4.ping_group_range allows for the process's group) and,
// when the kernel refuses them and Outpost runs as root, raw sockets.
type ICMP struct {
	target string
	count  int
	loss   float64 // the share lost that is still tolerated, in percent
	max    time.Duration
	root   bool // raw sockets may be tried
}

func newICMP(s Spec, o Options) (Probe, error) {
	if strings.Contains(s.Target, "/") || (strings.Contains(s.Target, ":") && net.ParseIP(s.Target) == nil) {
		return nil, fieldErr("target", "must be a host name or an IP address (no port, no URL), got %q", s.Target)
	}
	count := s.Count
	switch {
	case count == 0:
		count = 3
	case count < 1 || count > 20:
		return nil, fieldErr("count", "must be 1 to 20, got %d", count)
	}
	e := s.expect()
	loss := 0.0
	if e.PacketLoss != nil {
		loss = *e.PacketLoss
		if loss < 0 || loss >= 100 {
			return nil, fieldErr("expect.packet_loss", "must be a percentage from 0 to 99, got %g", loss)
		}
	}
	return &ICMP{target: s.Target, count: count, loss: loss, max: e.MaxLatency, root: os.Geteuid() == 0}, nil
}

// Run pings; down when every request is lost, degraded when more than the
// tolerated share is lost or the average round trip exceeds max_latency.
func (p *ICMP) Run(ctx context.Context) Result {
	start := time.Now()
	stats, mode, err := p.ping(ctx, false)
	if err != nil && p.root && errors.Is(err, syscall.EACCES) {
		stats, mode, err = p.ping(ctx, true)
	}
	lat := elapsed(start)
	if err != nil {
		var dnsErr *net.DNSError
		switch {
		case errors.As(err, &dnsErr):
			return down(ReasonDNSError, lat, "%v", err)
		case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
			return down(ReasonInternal, lat, "ICMP is not allowed: add Outpost's group to net.ipv4.ping_group_range, or run it as root (%v)", err)
		}
		return down(ReasonConnectionError, lat, "%v", err)
	}
	var r Result
	switch {
	case stats.PacketsRecv == 0:
		r = down(ReasonTimeout, lat, "no reply to %d echo requests", stats.PacketsSent)
	case stats.PacketLoss > p.loss:
		r = degraded(ReasonPacketLoss, stats.AvgRtt, "%.0f%% of %d echo requests lost (tolerated: %g%%)", stats.PacketLoss, stats.PacketsSent, p.loss)
	default:
		r = slowCheck(up(stats.AvgRtt), p.max)
	}
	r.detail("mode", mode)
	r.detail("address", stats.IPAddr.String())
	r.detail("sent", stats.PacketsSent)
	r.detail("received", stats.PacketsRecv)
	r.detail("packet_loss", stats.PacketLoss)
	if stats.PacketsRecv > 0 {
		r.detail("rtt_min_ms", ms(stats.MinRtt))
		r.detail("rtt_avg_ms", ms(stats.AvgRtt))
		r.detail("rtt_max_ms", ms(stats.MaxRtt))
	}
	return r
}

// ping runs one pinger: raw sockets or unprivileged ones.
func (p *ICMP) ping(ctx context.Context, raw bool) (*probing.Statistics, string, error) {
	pinger := probing.New(p.target)
	pinger.SetLogger(probing.NoopLogger{})
	pinger.SetPrivileged(raw)
	pinger.Count, pinger.Interval = p.count, icmpGap
	if dl, ok := ctx.Deadline(); ok {
		// The pinger stops itself just before the check's deadline, so
		// what it counted (replies, losses) is judged, not thrown away.
		pinger.Timeout = max(time.Until(dl)-20*time.Millisecond, time.Millisecond)
		pinger.ResolveTimeout = pinger.Timeout
	}
	mode := "unprivileged"
	if raw {
		mode = "raw"
	}
	err := pinger.RunWithContext(ctx)
	if err != nil && !(errors.Is(err, context.DeadlineExceeded) && pinger.IPAddr() != nil && pinger.PacketsSent > 0) {
		return nil, mode, fmt.Errorf("ping %s: %w", p.target, err)
	}
	return pinger.Statistics(), mode, nil
}
