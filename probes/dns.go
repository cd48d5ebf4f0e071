package probes

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNS queries one record type at a chosen resolver. The standard resolver
// cannot pick the server, protocol or report the rcode, hence miekg/dns.
type DNS struct {
	name     string
	qtype    uint16
	resolver string
	proto    string
	rcode    int
	values   []string
	contains []string
	max      time.Duration
	dialer   *net.Dialer
}

var dnsTypes = map[string]uint16{
	"A": dns.TypeA, "AAAA": dns.TypeAAAA, "CNAME": dns.TypeCNAME, "MX": dns.TypeMX,
	"TXT": dns.TypeTXT, "NS": dns.TypeNS, "SRV": dns.TypeSRV,
}

func newDNS(s Spec, o Options) (Probe, error) {
	rt := strings.ToUpper(s.RecordType)
	if rt == "" {
		rt = "A"
	}
	qt, ok := dnsTypes[rt]
	if !ok {
		return nil, fieldErr("record_type", "unsupported %q (use A, AAAA, CNAME, MX, TXT, NS or SRV)", s.RecordType)
	}
	if s.Resolver == "" {
		return nil, fieldErr("resolver", "is required for kind dns (host:port of the server to ask)")
	}
	if _, _, err := net.SplitHostPort(s.Resolver); err != nil {
		return nil, fieldErr("resolver", "must be host:port: %v", err)
	}
	proto := strings.ToLower(s.Protocol)
	if proto == "" {
		proto = "udp"
	}
	if proto != "udp" && proto != "tcp" {
		return nil, fieldErr("protocol", "must be udp or tcp, got %q", s.Protocol)
	}
	rc, e := dns.RcodeSuccess, s.expect()
	if e.Rcode != "" {
		v, ok := dns.StringToRcode[strings.ToUpper(e.Rcode)]
		if !ok {
			return nil, fieldErr("expect.rcode", "unknown rcode %q (e.g. NOERROR, NXDOMAIN)", e.Rcode)
		}
		rc = v
	}
	return &DNS{name: dns.Fqdn(s.Target), qtype: qt, resolver: s.Resolver, proto: proto, rcode: rc,
		values: normalize(e.Values), contains: normalize(e.ValuesContain), max: e.MaxLatency,
		dialer: o.dialer()}, nil
}

// Run sends one query and compares rcode and answers.
func (p *DNS) Run(ctx context.Context) Result {
	m := new(dns.Msg)
	m.SetQuestion(p.name, p.qtype)
	m.RecursionDesired = true
	start := time.Now()
	in, err := p.exchange(ctx, m)
	lat := elapsed(start)
	if err != nil {
		r := classifyNetErr(ctx, err, lat)
		if r.Reason == ReasonConnectionError {
			r.Reason = ReasonDNSError
		}
		return r
	}
	got := answers(in, p.qtype)
	var r Result
	switch {
	case in.Rcode != p.rcode:
		r = down(ReasonRcodeMismatch, lat, "rcode %s, want %s", dns.RcodeToString[in.Rcode], dns.RcodeToString[p.rcode])
	case len(p.values) > 0 && !slices.Equal(got, p.values):
		r = down(ReasonAnswerMismatch, lat, "answers %v, want exactly %v", got, p.values)
	case !containsAll(got, p.contains):
		r = down(ReasonAnswerMismatch, lat, "answers %v, want to include %v", got, p.contains)
	default:
		r = slowCheck(up(lat), p.max)
	}
	r.detail("rcode", dns.RcodeToString[in.Rcode])
	r.detail("answers", got)
	return r
}

// exchange sends m and reads its answer. Over TCP one answer of at most
// 64 KiB is read (miekg/dns does it). Over UDP, anyone may send datagrams
// to our port: miekg/dns allocates and parses each one until the ID
// matches, so a flood of stray replies costs memory without end; here a
// reply is parsed only once its ID is ours, into one buffer, until the
// deadline.
func (p *DNS) exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	if p.proto == "tcp" {
		in, _, err := (&dns.Client{Net: "tcp"}).ExchangeContext(ctx, m, p.resolver)
		return in, err
	}
	c, err := p.dialer.DialContext(ctx, "udp", p.resolver)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	q, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("pack the query: %w", err)
	}
	if _, err := c.Write(q); err != nil {
		return nil, err
	}
	buf := make([]byte, dns.MinMsgSize)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return nil, err
		}
		if n < 12 || binary.BigEndian.Uint16(buf) != m.Id || buf[2]&0x80 == 0 {
			continue // not the answer to our query
		}
		in := new(dns.Msg)
		if err := in.Unpack(buf[:n]); err != nil {
			return nil, fmt.Errorf("unpack the answer: %w", err)
		}
		return in, nil
	}
}

// answers renders the answer records of the asked type as comparable text.
func answers(m *dns.Msg, qt uint16) []string {
	var out []string
	for _, rr := range m.Answer {
		if rr.Header().Rrtype != qt {
			continue
		}
		var v string
		switch x := rr.(type) {
		case *dns.A:
			v = x.A.String()
		case *dns.AAAA:
			v = x.AAAA.String()
		case *dns.CNAME:
			v = x.Target
		case *dns.MX:
			v = fmt.Sprintf("%d %s", x.Preference, x.Mx)
		case *dns.TXT:
			v = strings.Join(x.Txt, "")
		case *dns.NS:
			v = x.Ns
		case *dns.SRV:
			v = fmt.Sprintf("%d %d %d %s", x.Priority, x.Weight, x.Port, x.Target)
		default:
			v = strings.TrimPrefix(rr.String(), rr.Header().String())
		}
		out = append(out, strings.TrimSuffix(strings.ToLower(v), "."))
	}
	slices.Sort(out)
	return out
}

// normalize lower-cases and sorts expected values and drops a name's final
// dot, as answers does, so "example.com" and "example.com." compare equal.
func normalize(vs []string) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, strings.TrimSuffix(strings.ToLower(strings.TrimSpace(v)), "."))
	}
	slices.Sort(out)
	return out
}

func containsAll(got, want []string) bool {
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}
