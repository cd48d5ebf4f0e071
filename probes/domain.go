package probes

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// bootstrapDNS is IANA's RDAP bootstrap file for domain names (RFC 9224),
// as published 2022-07-06T16:00:02Z: a copy from the test data of
// github.com/meeb/whoisit (tests/data_bootstrap.json), as data.iana.org
// cannot be reached from the machines this is built on. A check's
// bootstrap_file or rdap_url overrides it.
//
//go:embed rdap_dns.json
var bootstrapDNS []byte

// Domain reads a domain's registration expiry from its registry's RDAP
// service (RFC 9083) and judges the days left, as tls does a certificate's.
type Domain struct {
	name     string
	base     string // the RDAP service's base URL, ending in /
	warn     time.Duration
	critical time.Duration
	now      func() time.Time
	client   *http.Client
	maxBody  int64
}

func newDomain(s Spec, o Options) (Probe, error) {
	name := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s.Target)), ".")
	if strings.ContainsAny(name, "/: ") || !strings.Contains(name, ".") {
		return nil, fieldErr("target", "must be a registered domain name such as example.com, got %q", s.Target)
	}
	warn, crit, err := expiryDays(s)
	if err != nil {
		return nil, err
	}
	base := s.RDAPURL
	if base == "" {
		data := bootstrapDNS
		if s.BootstrapFile != "" {
			path := s.BootstrapFile
			if !filepath.IsAbs(path) {
				path = filepath.Join(o.BaseDir, path)
			}
			if data, err = os.ReadFile(path); err != nil {
				return nil, fieldErr("bootstrap_file", "%v", err)
			}
		}
		if base, err = rdapServer(data, name); err != nil {
			field := "target"
			if s.BootstrapFile != "" {
				field = "bootstrap_file"
			}
			return nil, fieldErr(field, "%v", err)
		}
	} else if !strings.HasPrefix(base, "https://") && !strings.HasPrefix(base, "http://") {
		return nil, fieldErr("rdap_url", "must be an http(s) URL, got %q", base)
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	tlsCfg, err := clientTLS(s, o)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{DisableKeepAlives: true, TLSClientConfig: tlsCfg, DialContext: o.dialer().DialContext,
		MaxResponseHeaderBytes: maxHeaderBytes}
	maxBody := s.bodyLimit(defaultMaxBody)
	return &Domain{name: name, base: base, warn: warn, critical: crit, now: time.Now, client: &http.Client{Transport: tr},
		maxBody: maxBody}, nil
}

// rdapServer finds the service for name's longest known suffix.
func rdapServer(bootstrap []byte, name string) (string, error) {
	var b struct {
		Services [][][]string `json:"services"`
	}
	if err := json.Unmarshal(bootstrap, &b); err != nil {
		return "", fmt.Errorf("the RDAP bootstrap file is not valid: %v", err)
	}
	best, bestLen := "", 0
	for _, svc := range b.Services {
		if len(svc) < 2 || len(svc[1]) == 0 {
			continue
		}
		url := svc[1][0]
		for _, u := range svc[1] { // prefer https where both are listed
			if strings.HasPrefix(u, "https://") {
				url = u
				break
			}
		}
		for _, suffix := range svc[0] {
			suffix = strings.ToLower(suffix)
			if (name == suffix || strings.HasSuffix(name, "."+suffix)) && len(suffix) > bestLen {
				best, bestLen = url, len(suffix)
			}
		}
	}
	if best == "" {
		return "", fmt.Errorf("no RDAP service is known for %q; set rdap_url (the registry's RDAP base URL) or bootstrap_file", name)
	}
	return best, nil
}

// Run asks the registry and judges the expiry.
func (p *Domain) Run(ctx context.Context) Result {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"domain/"+p.name, nil)
	if err != nil {
		return down(ReasonInternal, 0, "build request: %v", err)
	}
	req.Header.Set("Accept", "application/rdap+json, application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return classifyNetErr(ctx, err, elapsed(start))
	}
	defer resp.Body.Close()
	body, err := readLimited(resp.Body, p.maxBody, resp.ContentLength)
	lat := elapsed(start)
	if errors.Is(err, errTooLarge) {
		return down(ReasonBodyTooLarge, lat, "the registry's answer is larger than max_body_bytes (%d bytes)", p.maxBody)
	}
	if err != nil {
		return classifyNetErr(ctx, err, lat)
	}
	if resp.StatusCode != http.StatusOK {
		return down(ReasonStatusMismatch, lat, "the registry answered %d for %s", resp.StatusCode, p.name)
	}
	var doc struct {
		Events []struct {
			Action string `json:"eventAction"`
			Date   string `json:"eventDate"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return down(ReasonBodyMismatch, lat, "the registry's answer is not RDAP JSON: %v", err)
	}
	var expires time.Time
	for _, e := range doc.Events {
		if strings.EqualFold(e.Action, "expiration") {
			if t, err := time.Parse(time.RFC3339, e.Date); err == nil {
				expires = t
			}
		}
	}
	if expires.IsZero() {
		return down(ReasonBodyMismatch, lat, "the registry gives no expiration date for %s", p.name)
	}
	left := expires.Sub(p.now())
	var r Result
	switch {
	case left <= 0:
		r = down(ReasonDomainExpired, lat, "%s expired %s", p.name, expires.UTC().Format(time.RFC3339))
	case left < p.critical:
		r = down(ReasonDomainExpiring, lat, "%s expires in %s", p.name, days(left))
	case left < p.warn:
		r = degraded(ReasonDomainExpiring, lat, "%s expires in %s", p.name, days(left))
	default:
		r = up(lat)
	}
	r.detail("expires_at", expires.UTC().Format(time.RFC3339))
	r.detail("days_left", int(left.Hours()/24))
	r.detail("rdap_url", p.base)
	return r
}
