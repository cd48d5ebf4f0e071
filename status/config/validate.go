package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
)

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// validate fills defaults and checks every rule, recording each failure at
// the line of the field it concerns.
func (d *decoder) validate(c *Config, po probes.Options) {
	bad := func(path, format string, args ...any) { d.fail(d.at(path), path, format, args...) }
	d.validateSite(c, bad)
	if c.Listen == "" {
		c.Listen = DefaultListen
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "must be host:port (e.g. 127.0.0.1:8080): %v", err)
	}
	validateOperators(c, bad)
	if c.Site.URL == "" {
		// Feeds, webhooks and posts need absolute links; without a public
		// URL the listener's own address is the best there is.
		c.Site.URL = "http://" + c.Listen
	}
	if c.Storage.Path == "" {
		c.Storage.Path = DefaultStoragePath
	}
	if !filepath.IsAbs(c.Storage.Path) {
		c.Storage.Path = filepath.Join(c.Dir, c.Storage.Path)
	}
	if c.Storage.RawRetention == 0 {
		c.Storage.RawRetention = DefaultRawRetention
	} else if c.Storage.RawRetention < time.Hour {
		bad("storage.raw_retention", "must be at least 1h, got %s", c.Storage.RawRetention)
	}
	if c.Incidents.ReopenWindow == 0 {
		c.Incidents.ReopenWindow = DefaultReopenWindow
	}
	if c.Scheduler.Concurrency == 0 {
		c.Scheduler.Concurrency = DefaultConcurrency
	} else if c.Scheduler.Concurrency < 1 {
		bad("scheduler.concurrency", "must be at least 1")
	}
	for i, cidr := range c.TrustedProxies {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			bad(fmt.Sprintf("trusted_proxies[%d]", i), "invalid CIDR %q (e.g. 10.0.0.0/8 or 2001:db8::/32)", cidr)
			continue
		}
		c.Proxies = append(c.Proxies, n)
	}
	d.validateTLS(c, bad)
	d.validatePeers(c, bad)
	validateDeadman(&c.Deadman, bad)
	if c.Export.Dir != "" && !filepath.IsAbs(c.Export.Dir) {
		c.Export.Dir = filepath.Join(c.Dir, c.Export.Dir)
	}
	if c.Export.Every == 0 {
		c.Export.Every = time.Minute
	} else if c.Export.Every < 5*time.Second {
		bad("export.every", "must be at least 5s, got %s", c.Export.Every)
	}
	comps := d.validateComponents(c, bad)
	po.Browser = validateBrowser(&c.Browser, bad)
	d.validateChecks(c, comps, po, bad)
	d.validateCanaries(c, po, bad)
	d.validateMaintenance(c, comps, bad)
	d.validateChannels(c, comps, bad)
	validateWebhooks(&c.Webhooks, bad)
	validateEmail(&c.Email, bad)
	d.validateCluster(c, bad)
	validateVoting(c, bad)
}

type badFunc func(path, format string, args ...any)

func (d *decoder) validateSite(c *Config, bad badFunc) {
	if strings.TrimSpace(c.Site.Title) == "" {
		bad("site.title", "is required")
	}
	if c.Site.ID == "" {
		c.Site.ID = Slug(c.Site.Title)
	} else if !idPattern.MatchString(c.Site.ID) {
		bad("site.id", "must be lower-case letters, digits, - or _ (got %q)", c.Site.ID)
	}
	if c.Site.URL != "" {
		if u, err := url.Parse(c.Site.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("site.url", "must be an absolute http(s) URL, got %q", c.Site.URL)
		}
		c.Site.URL = strings.TrimRight(c.Site.URL, "/")
	}
	if c.Site.TimeZone == "" {
		c.Site.TimeZone = "UTC"
	}
	loc, err := time.LoadLocation(c.Site.TimeZone)
	if err != nil {
		bad("site.time_zone", "unknown time zone %q (use an IANA name such as Europe/Berlin)", c.Site.TimeZone)
		loc = time.UTC
	}
	c.Site.Location = loc
}

func (d *decoder) validateComponents(c *Config, bad badFunc) map[string]bool {
	ids := map[string]bool{}
	if len(c.Components) == 0 {
		bad("components", "at least one component is required")
	}
	for i, comp := range c.Components {
		p := fmt.Sprintf("components[%d]", i)
		uniqueID(ids, comp.ID, p+".id", "component id", bad)
		if strings.TrimSpace(comp.Name) == "" {
			bad(p+".name", "is required")
		}
	}
	validateDependencies(c.Components, ids, bad)
	return ids
}

func (d *decoder) validateChecks(c *Config, comps map[string]bool, po probes.Options, bad badFunc) {
	names := map[string]bool{}
	for i := range c.Checks {
		ch := &c.Checks[i]
		p := fmt.Sprintf("checks[%d]", i)
		uniqueName(names, ch.Name, p+".name", "check name", bad)
		if ch.Component == "" {
			bad(p+".component", "is required")
		} else if !comps[ch.Component] {
			bad(p+".component", "unknown component %q", ch.Component)
		}
		if ch.Kind == "heartbeat" {
			// Pushed: look often, and one miss is already a confirmed miss.
			if ch.Interval == 0 && ch.Schedule == "" {
				ch.Interval = 10 * time.Second
			}
			if ch.FailureThreshold == 0 {
				ch.FailureThreshold = 1
			}
			if ch.SuccessThreshold == 0 {
				ch.SuccessThreshold = 1
			}
		}
		switch ch.Affects {
		case "", AffectsStatus, AffectsWarning:
		default:
			bad(p+".affects", "must be %s or %s, got %q", AffectsStatus, AffectsWarning, ch.Affects)
		}
		d.validateTiming(ch, p, bad)
		d.validateProbe(ch, p, po, bad)
	}
}

// What a check's failures affect.
const (
	AffectsStatus  = "status"  // its component's public status (the default)
	AffectsWarning = "warning" // operators are told; the public page does not change
)

// validateProbe applies the threshold defaults and builds the probe of a
// check or canary, pointing any field error at its line.
func (d *decoder) validateProbe(ch *Check, p string, po probes.Options, bad badFunc) {
	if ch.FailureThreshold == 0 {
		ch.FailureThreshold = DefaultFailureThreshold
	} else if ch.FailureThreshold < 1 {
		bad(p+".failure_threshold", "must be at least 1")
	}
	if ch.SuccessThreshold == 0 {
		ch.SuccessThreshold = DefaultSuccessThreshold
	} else if ch.SuccessThreshold < 1 {
		bad(p+".success_threshold", "must be at least 1")
	}
	if ch.RecheckInterval == 0 {
		ch.RecheckInterval = DefaultRecheckInterval
	}
	if ch.Kind == "" {
		bad(p+".kind", "is required (one of %s)", strings.Join(probes.Kinds(), ", "))
		return
	}
	ch.Spec.Name = ch.Name
	probe, err := probes.New(ch.Spec, po)
	var fe *probes.FieldError
	switch {
	case errors.As(err, &fe):
		bad(p+"."+fe.Field, "%s", fe.Msg)
	case err != nil:
		bad(p, "%v", err)
	}
	ch.Probe = probe
}

func (d *decoder) validateTiming(ch *Check, p string, bad badFunc) {
	switch {
	case ch.Interval != 0 && ch.Schedule != "":
		bad(p+".schedule", "set either interval or schedule, not both")
	case ch.Schedule != "":
		s, err := cron.ParseStandard(ch.Schedule)
		if err != nil {
			bad(p+".schedule", "invalid cron spec %q: %v", ch.Schedule, err)
			return
		}
		next := s.Next(time.Now().UTC())
		ch.Every = s.Next(next).Sub(next)
	default:
		if ch.Interval == 0 {
			ch.Interval = DefaultInterval
		}
		if ch.Interval < MinInterval {
			bad(p+".interval", "must be at least %s, got %s", MinInterval, ch.Interval)
		}
		ch.Every = ch.Interval
	}
	if ch.Timeout == 0 {
		ch.Timeout = min(DefaultTimeout, ch.Every)
	} else if ch.Every > 0 && ch.Timeout > ch.Every {
		bad(p+".timeout", "%s is longer than the check's interval %s", ch.Timeout, ch.Every)
	}
}

func (d *decoder) validateMaintenance(c *Config, comps map[string]bool, bad badFunc) {
	ids := map[string]bool{}
	for i, m := range c.Maintenance {
		p := fmt.Sprintf("maintenance[%d]", i)
		uniqueID(ids, m.ID, p+".id", "maintenance id", bad)
		if m.Name == "" {
			bad(p+".name", "is required")
		}
		if len(m.Components) == 0 {
			bad(p+".components", "at least one component is required")
		}
		for j, id := range m.Components {
			if !comps[id] {
				bad(fmt.Sprintf("%s.components[%d]", p, j), "unknown component %q", id)
			}
		}
		oneOff := !m.Start.IsZero() || !m.End.IsZero()
		switch {
		case oneOff && m.Schedule != "":
			bad(p+".schedule", "set either start/end or schedule/duration, not both")
		case oneOff && !m.End.After(m.Start):
			bad(p+".end", "must be after start")
		case m.Schedule != "":
			if _, err := cron.ParseStandard(m.Schedule); err != nil {
				bad(p+".schedule", "invalid cron spec %q: %v", m.Schedule, err)
			}
			if m.Duration <= 0 {
				bad(p+".duration", "is required with schedule")
			}
		case !oneOff:
			bad(p, "needs start and end, or schedule and duration")
		}
	}
}

// Slug turns a display name into an id: lower-case ASCII letters and digits
// joined by single dashes (the same rule as group ids).
func Slug(s string) string { return status.GroupID(s) }

func (d *decoder) validateTLS(c *Config, bad badFunc) {
	t := &c.TLS
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(c.Dir, p)
	}
	t.CertFile, t.KeyFile = abs(t.CertFile), abs(t.KeyFile)
	switch {
	case (t.CertFile == "") != (t.KeyFile == ""):
		bad("tls", "set both cert_file and key_file")
	case t.CertFile != "" && t.ACME != nil:
		bad("tls.acme", "set either cert_file/key_file or acme, not both")
	case t.CertFile != "":
		if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
			bad("tls.cert_file", "cannot load the key pair: %v", err)
		}
	case t.ACME != nil:
		if len(t.ACME.Domains) == 0 {
			bad("tls.acme.domains", "at least one domain is required")
		}
		if t.ACME.CacheDir == "" {
			t.ACME.CacheDir = filepath.Join(filepath.Dir(c.Storage.Path), "acme")
		}
		t.ACME.CacheDir = abs(t.ACME.CacheDir)
		t.ACME.CAFile = abs(t.ACME.CAFile)
	}
	if t.HTTPListen != "" {
		if !t.Enabled() {
			bad("tls.http_listen", "only makes sense with cert_file/key_file or acme")
		} else if _, _, err := net.SplitHostPort(t.HTTPListen); err != nil {
			bad("tls.http_listen", "must be host:port: %v", err)
		}
	}
}

// validateCanaries checks canaries like checks, without a component, with
// names unique across checks and canaries.
func (d *decoder) validateCanaries(c *Config, po probes.Options, bad badFunc) {
	if c.Connectivity.Threshold == 0 {
		c.Connectivity.Threshold = 0.5
	} else if c.Connectivity.Threshold < 0 || c.Connectivity.Threshold > 1 {
		bad("connectivity.threshold", "must be between 0 and 1, got %v", c.Connectivity.Threshold)
	}
	names := map[string]bool{}
	for _, ch := range c.Checks {
		names[ch.Name] = true
	}
	for i := range c.Canaries {
		ch := &c.Canaries[i]
		p := fmt.Sprintf("canaries[%d]", i)
		uniqueName(names, ch.Name, p+".name", "name (check and canary names share one namespace):", bad)
		if ch.Component != "" {
			bad(p+".component", "canaries belong to no component")
		}
		if ch.Affects != "" {
			bad(p+".affects", "is for checks; a canary affects no component")
		}
		d.validateTiming(ch, p, bad)
		d.validateProbe(ch, p, po, bad)
	}
}

func (d *decoder) validatePeers(c *Config, bad badFunc) {
	if c.Peering.Interval == 0 {
		c.Peering.Interval = 30 * time.Second
	} else if c.Peering.Interval < time.Second {
		bad("peering.interval", "must be at least 1s")
	}
	if c.Peering.Failures == 0 {
		c.Peering.Failures = 3
	}
	names := map[string]bool{}
	for i, p := range c.Peers {
		f := fmt.Sprintf("peers[%d]", i)
		uniqueID(names, p.Name, f+".name", "peer name", bad)
		if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(f+".url", "must be the peer's absolute http(s) URL")
		}
		if len(p.Key) < 16 {
			bad(f+".key", "must be at least 16 characters, shared with that peer (${PEER_KEY})")
		}
	}
}

// uniqueName reports a missing name or one seen before, and records it.
// uniqueID is uniqueName for identifiers that appear in URLs and keys.
func uniqueID(seen map[string]bool, id, path, what string, bad badFunc) {
	if id != "" && !idPattern.MatchString(id) {
		bad(path, "must be lower-case letters, digits, - or _ (got %q)", id)
		return
	}
	uniqueName(seen, id, path, what, bad)
}

func uniqueName(seen map[string]bool, name, path, what string, bad badFunc) {
	switch {
	case name == "":
		bad(path, "is required")
	case seen[name]:
		bad(path, "duplicate %s %q", what, name)
	}
	seen[name] = true
}
