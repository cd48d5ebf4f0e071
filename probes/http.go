package probes

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

const (
	defaultMaxBody      = 1 << 20 // 1 MiB is plenty to match a health body
	defaultMaxRedirects = 5
)

// HTTP probes a URL. Each run dials a fresh connection (keep-alives off) so
// that DNS, connect and TLS failures are seen, not hidden behind a pool.
type HTTP struct {
	url          string
	method       string
	headers      http.Header
	body         string
	statuses     statusSet
	contains     string
	notContains  string
	re           *regexp.Regexp
	json         []jsonMatcher
	maxLatency   time.Duration
	maxBody      int64
	judgesBody   bool // a body cut at maxBody would be judged wrongly
	follow       bool
	maxRedirects int
	tlsConfig    *tls.Config
	userAgent    string
	// resolver is all of a dialer that is the check's: each run makes its
	// dialer, as it makes its transport, rather than each of thousands of
	// checks holding one.
	resolver *net.Resolver
}

func newHTTP(s Spec, o Options) (Probe, error) {
	if !strings.HasPrefix(s.Target, "http://") && !strings.HasPrefix(s.Target, "https://") {
		return nil, fieldErr("target", "must be an http:// or https:// URL, got %q", s.Target)
	}
	e := s.expect()
	p := &HTTP{
		url: s.Target, method: strings.ToUpper(s.Method), body: s.Body,
		contains: e.BodyContains, notContains: e.BodyNotContains,
		maxLatency: e.MaxLatency, maxBody: s.MaxBodyBytes,
		follow: s.FollowRedirects == nil || *s.FollowRedirects, maxRedirects: s.MaxRedirects,
		userAgent: "Outpost/" + o.Version, resolver: o.Resolver,
	}
	if p.method == "" {
		p.method = http.MethodGet
	}
	if p.maxBody <= 0 {
		p.maxBody = defaultMaxBody
	}
	if p.maxRedirects <= 0 {
		p.maxRedirects = defaultMaxRedirects
	}
	if len(s.Headers) > 0 { // most checks have none: nil until one is set
		p.headers = make(http.Header, len(s.Headers))
	}
	for k, v := range s.Headers {
		p.headers.Set(k, v)
	}
	var err error
	if p.statuses, err = parseStatusSet(e.Status); err != nil {
		return nil, fieldErr("expect.status", "%v", err)
	}
	if e.BodyRegex != "" {
		if p.re, err = regexp.Compile(e.BodyRegex); err != nil {
			return nil, fieldErr("expect.body_regex", "invalid regular expression: %v", err)
		}
	}
	p.judgesBody = p.contains != "" || p.notContains != "" || p.re != nil || len(e.JSON) > 0
	for i, j := range e.JSON {
		m, err := newJSONMatcher(j)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("expect.json[%d]", i), "%v", err)
		}
		p.json = append(p.json, m)
	}
	// Without TLS options, Go's client default is the same configuration
	// (verification on, TLS 1.2 at least): a nil one spares each of
	// thousands of checks a copy, and each run cloning it.
	if s.SkipTLSVerify || s.ServerName != "" || s.CAFile != "" {
		if p.tlsConfig, err = clientTLS(s, o); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// clientTLS builds the TLS config shared by the http and tls kinds:
// verification on by default, optionally against a pinned CA file.
func clientTLS(s Spec, o Options) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: s.SkipTLSVerify, ServerName: s.ServerName} //nolint:gosec // opt-in only
	if s.CAFile == "" {
		return cfg, nil
	}
	path := s.CAFile
	if !filepath.IsAbs(path) {
		path = filepath.Join(o.BaseDir, path)
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fieldErr("ca_file", "%v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fieldErr("ca_file", "%s holds no PEM certificate", path)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// Run performs one request.
func (p *HTTP) Run(ctx context.Context) Result {
	r, _, _ := p.exchange(ctx)
	return r
}

// exchange performs one request and judges it, returning the response's
// headers and body too (an api step captures values from them).
func (p *HTTP) exchange(ctx context.Context) (Result, http.Header, []byte) {
	tr := &http.Transport{
		DisableKeepAlives:   true,
		TLSClientConfig:     p.tlsConfig.Clone(),
		Proxy:               nil, // an out-of-band monitor must not depend on a proxy
		DialContext:         Options{Resolver: p.resolver}.dialer().DialContext,
		TLSHandshakeTimeout: 0, // the run's context bounds everything
		// A hostile peer's headers are bounded like its body.
		MaxResponseHeaderBytes: maxHeaderBytes,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: p.redirectPolicy}

	var body io.Reader
	if p.body != "" {
		body = strings.NewReader(p.body)
	}
	tm := &phaseTimes{}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, tm.trace()), p.method, p.url, body)
	if err != nil {
		return down(ReasonInternal, 0, "build request: %v", err), nil, nil
	}
	if p.headers != nil {
		req.Header = p.headers.Clone()
	}
	req.Header.Set("User-Agent", p.userAgent)

	start := time.Now()
	tm.locked(func() { tm.start = start })
	resp, err := client.Do(req)
	if err != nil {
		return classifyNetErr(ctx, err, elapsed(start)).withDetails(tm.details()), nil, nil
	}
	defer resp.Body.Close()
	var buf []byte
	var readErr error
	if p.judgesBody {
		buf, readErr = readLimited(resp.Body, p.maxBody, resp.ContentLength)
	} else {
		// Only the status is judged: the body is read (its time is part
		// of the latency) up to the limit, into nothing; a long body is
		// no failure, and the rest of it is not read.
		_, readErr = io.Copy(io.Discard, io.LimitReader(resp.Body, p.maxBody))
	}
	lat := elapsed(start)
	if errors.Is(readErr, errTooLarge) {
		r := down(ReasonBodyTooLarge, lat, "the body is larger than max_body_bytes (%d bytes), so it is not judged", p.maxBody)
		r.detail("status_code", resp.StatusCode)
		return r.withDetails(tm.details()), resp.Header, nil
	}
	if readErr != nil {
		return classifyNetErr(ctx, readErr, lat).withDetails(tm.details()), resp.Header, nil
	}
	r := p.judge(resp.StatusCode, buf, lat)
	r.detail("status_code", resp.StatusCode)
	return r.withDetails(tm.details()), resp.Header, buf
}

func (p *HTTP) redirectPolicy(req *http.Request, via []*http.Request) error {
	if !p.follow {
		return http.ErrUseLastResponse
	}
	if len(via) >= p.maxRedirects {
		return fmt.Errorf("stopped after %d redirects", len(via))
	}
	return nil
}

// judge applies the expectations to a complete response.
func (p *HTTP) judge(code int, body []byte, lat time.Duration) Result {
	if !p.statuses.match(code) {
		return down(ReasonStatusMismatch, lat, "status %d, want %s", code, p.statuses)
	}
	if p.contains != "" && !bytes.Contains(body, []byte(p.contains)) {
		return down(ReasonBodyMismatch, lat, "body does not contain %q", p.contains)
	}
	if p.notContains != "" && bytes.Contains(body, []byte(p.notContains)) {
		return down(ReasonBodyMismatch, lat, "body contains %q", p.notContains)
	}
	if p.re != nil && !p.re.Match(body) {
		return down(ReasonBodyMismatch, lat, "body does not match /%s/", p.re)
	}
	for _, m := range p.json {
		if msg := m.check(body); msg != "" {
			return down(ReasonBodyMismatch, lat, "%s", msg)
		}
	}
	return slowCheck(up(lat), p.maxLatency)
}

// classifyNetErr maps a transport error to the reason vocabulary.
func classifyNetErr(ctx context.Context, err error, lat time.Duration) Result {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var hostErr x509.HostnameError
	var unkAuth x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.Is(err, errTooLarge):
		return down(ReasonBodyTooLarge, lat, "%v", err)
	case strings.Contains(err.Error(), "response headers exceeded"): // net/http's MaxResponseHeaderBytes, untyped
		return down(ReasonBodyTooLarge, lat, "%v", err)
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil || isTimeout(err):
		return down(ReasonTimeout, lat, "%v", err)
	case errors.As(err, &dnsErr):
		return down(ReasonDNSError, lat, "%v", err)
	case errors.As(err, &certErr), errors.As(err, &recErr), errors.As(err, &hostErr),
		errors.As(err, &unkAuth), errors.As(err, &invalid), strings.Contains(err.Error(), "tls:"):
		return down(ReasonTLSError, lat, "%v", err)
	case isRefused(err):
		return down(ReasonConnectionRefused, lat, "%v", err)
	default:
		return down(ReasonConnectionError, lat, "%v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// phaseTimes records HTTP phase durations through httptrace, as
// prometheus/blackbox_exporter's prober does: the callbacks come from
// several goroutines (Go races IPv6 and IPv4 connects when the first
// stalls), so everything is under a lock; each round trip (a redirect is a
// new one) starts afresh, so the phases are those of the final request;
// and a connect counts only for the address that connected.
type phaseTimes struct {
	mu                             sync.Mutex
	start                          time.Time // of the run: first_byte counts from it
	dnsStart, tlsStart             time.Time
	connStart                      map[string]time.Time // by network and address
	dns, connect, tlsHS, firstByte time.Duration
}

func (t *phaseTimes) locked(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f()
}

func (t *phaseTimes) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn: func(string) {
			t.locked(func() { t.dns, t.connect, t.tlsHS, t.connStart = 0, 0, 0, map[string]time.Time{} })
		},
		DNSStart: func(httptrace.DNSStartInfo) { t.locked(func() { t.dnsStart = time.Now() }) },
		DNSDone:  func(httptrace.DNSDoneInfo) { t.locked(func() { t.dns = time.Since(t.dnsStart) }) },
		ConnectStart: func(network, addr string) {
			t.locked(func() {
				if t.connStart == nil {
					t.connStart = map[string]time.Time{}
				}
				t.connStart[network+" "+addr] = time.Now()
			})
		},
		ConnectDone: func(network, addr string, err error) {
			t.locked(func() {
				if at, ok := t.connStart[network+" "+addr]; ok && err == nil {
					t.connect = time.Since(at)
				}
			})
		},
		TLSHandshakeStart:    func() { t.locked(func() { t.tlsStart = time.Now() }) },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { t.locked(func() { t.tlsHS = time.Since(t.tlsStart) }) },
		GotFirstResponseByte: func() { t.locked(func() { t.firstByte = time.Since(t.start) }) },
	}
}

// details reports phases in milliseconds (float, for sub-ms loopback runs).
func (t *phaseTimes) details() map[string]any {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := map[string]any{}
	add := func(k string, v time.Duration) {
		if v > 0 {
			d[k] = float64(v.Microseconds()) / 1000
		}
	}
	add("dns_ms", t.dns)
	add("connect_ms", t.connect)
	add("tls_ms", t.tlsHS)
	add("first_byte_ms", t.firstByte)
	return d
}
