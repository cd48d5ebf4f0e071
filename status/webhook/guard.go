package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// ErrRefusedAddress is returned when a subscriber URL resolves to an address
// Outpost will not connect to.
var ErrRefusedAddress = errors.New("webhook: destination address refused")

// refusedPrefixes are the ranges netip's predicates do not already cover:
// shared address space (CGNAT), "this network", IETF protocol assignments,
// benchmarking, reserved class E, NAT64 and 6to4 and IPv4-compatible
// addresses (which reach any IPv4 address, private ones included) and the
// metadata address some clouds put in a unique-local range.
var refusedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64 (RFC 8215)
	netip.MustParsePrefix("::/96"),          // IPv4-compatible: ::10.0.0.1
	netip.MustParsePrefix("2002::/16"),      // 6to4: embeds any IPv4 address, private ones too
	netip.MustParsePrefix("fd00:ec2::254/128"),
}

// Refused reports whether a webhook may not be delivered to ip when private
// targets are not allowed: loopback, private, link-local (which holds
// 169.254.169.254, the usual metadata address), CGNAT, multicast,
// unspecified and reserved addresses.
func Refused(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, p := range refusedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return ip.Is4() && ip == netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// ClientOptions shape the delivery client.
type ClientOptions struct {
	// AllowPrivate is webhooks.allow_private_targets: deliveries may reach
	// loopback and private networks (for tests and in-house receivers).
	AllowPrivate   bool
	ConnectTimeout time.Duration // default 5 s
	Timeout        time.Duration // whole attempt, default 15 s
	// Resolver, when set, replaces DNS; tests use it to map a name to a
	// private address without sending a query anywhere.
	Resolver func(ctx context.Context, host string) ([]netip.Addr, error)
	// LocalAddrs lists the host's own interface addresses (default: the
	// kernel's): a public address of this host reaches its own services.
	LocalAddrs func() ([]netip.Addr, error)
	// control observes every dial decision; tests use it to prove the
	// refusal happened before connect.
	control func(address string, err error)
}

// NewClient returns the HTTP client deliveries use. The address check runs in
// the dialer's Control hook, after resolution and before connect(2), so it
// judges the address actually dialled: a DNS answer that changes between a
// validation step and the delivery (rebinding) cannot get around it. It
// follows no redirects and uses no proxy.
func NewClient(o ClientOptions) *http.Client {
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.Timeout == 0 {
		o.Timeout = 15 * time.Second
	}
	if o.LocalAddrs == nil {
		o.LocalAddrs = interfaceAddrs
	}
	own := &ownAddrs{list: o.LocalAddrs}
	d := &net.Dialer{Timeout: o.ConnectTimeout, Control: func(network, address string, _ syscall.RawConn) error {
		err := check(address, o.AllowPrivate, own)
		if o.control != nil {
			o.control(address, err)
		}
		return err
	}}
	dial := d.DialContext
	if o.Resolver != nil {
		dial = func(ctx context.Context, network, address string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			ips, err := o.Resolver(ctx, host)
			if err != nil {
				return nil, fmt.Errorf("resolve %s: %w", host, err)
			}
			var last error = fmt.Errorf("resolve %s: no addresses", host)
			for _, ip := range ips {
				c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
				if err == nil {
					return c, nil
				}
				last = err
			}
			return nil, last
		}
	}
	return &http.Client{
		Timeout: o.Timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dial,
			TLSHandshakeTimeout:   o.ConnectTimeout,
			ResponseHeaderTimeout: o.Timeout,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
		},
		// A redirect would let a verified receiver send deliveries anywhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func check(address string, allowPrivate bool, own *ownAddrs) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s is not an IP address", ErrRefusedAddress, address)
	}
	if allowPrivate {
		return nil
	}
	if Refused(ap.Addr()) {
		return fmt.Errorf("%w: %s is not a public address", ErrRefusedAddress, ap.Addr())
	}
	if own.has(ap.Addr()) {
		return fmt.Errorf("%w: %s is an address of this host", ErrRefusedAddress, ap.Addr())
	}
	return nil
}

// ownAddrs caches the host's interface addresses for a few seconds: every
// dial asks, and they rarely change. If they cannot be read, every address
// is refused rather than one of the host's own let through.
type ownAddrs struct {
	list func() ([]netip.Addr, error)

	mu    sync.Mutex
	addrs []netip.Addr
	err   error
	at    time.Time
}

func (o *ownAddrs) has(ip netip.Addr) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.at.IsZero() || time.Since(o.at) > 10*time.Second {
		o.addrs, o.err = o.list()
		o.at = time.Now()
	}
	if o.err != nil {
		return true
	}
	ip = ip.Unmap()
	for _, a := range o.addrs {
		if a.Unmap() == ip {
			return true
		}
	}
	return false
}

// interfaceAddrs lists the addresses of the host's interfaces.
func interfaceAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(as))
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr())
		}
	}
	return out, nil
}
