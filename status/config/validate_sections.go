package config

import (
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"github.com/outpost-status/outpost/probes"
)

// Validation of the smaller sections (operators, dead man's switch,
// webhooks) and of the components' dependencies.

// validateOperators sets the operators' listener: the default (also when
// written out) may fail to bind with a warning; one chosen must not.
func validateOperators(c *Config, bad badFunc) {
	switch o := &c.Operators; {
	case o.Listen == "" || o.Listen == DefaultOperatorsListen:
		// The default (also when written out): if it cannot be bound,
		// serving goes on with a warning.
		o.Listen = DefaultOperatorsListen
	case o.Listen == "off":
		o.Explicit = true
	default:
		o.Explicit = true
		if _, _, err := net.SplitHostPort(o.Listen); err != nil {
			bad("operators.listen", "must be host:port (e.g. 127.0.0.1:9090) or off: %v", err)
		} else if o.Listen == c.Listen {
			bad("operators.listen", "must differ from listen: the operators' surfaces name private things")
		}
	}
}

// validateDeadman checks the dead man's switch, when configured.
func validateDeadman(dm *Deadman, bad badFunc) {
	if dm.URL == "" {
		return
	}
	if u, err := url.Parse(dm.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("deadman.url", "must be an absolute http(s) URL")
	}
	if dm.Interval == 0 {
		dm.Interval = time.Minute
	} else if dm.Interval < time.Second {
		bad("deadman.interval", "must be at least 1s")
	}
	switch dm.Method = strings.ToUpper(dm.Method); dm.Method {
	case "":
		dm.Method = "GET"
	case "GET", "POST", "HEAD":
	default:
		bad("deadman.method", "must be GET, POST or HEAD, got %q", dm.Method)
	}
	if dm.Timeout == 0 {
		dm.Timeout = 10 * time.Second
	}
}

func validateWebhooks(w *Webhooks, bad badFunc) {
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{{"webhooks.per_client", &w.PerClient, 5}, {"webhooks.concurrency", &w.Concurrency, 64}, {"webhooks.per_host", &w.PerHost, 4}} {
		switch {
		case *f.v == 0:
			*f.v = f.def
		case *f.v < 0:
			bad(f.name, "must be at least 1, got %d", *f.v)
		}
	}
	switch {
	case w.Timeout == 0:
		w.Timeout = 15 * time.Second
	case w.Timeout < time.Second || w.Timeout > time.Minute:
		bad("webhooks.timeout", "must be between 1s and 1m, got %s", w.Timeout)
	}
}

// validateDependencies checks depends_on: known components, not itself,
// and no cycle (which would have each blame the other).
func validateDependencies(comps []Component, ids map[string]bool, bad badFunc) {
	deps := map[string][]string{}
	for i, comp := range comps {
		for j, d := range comp.DependsOn {
			p := fmt.Sprintf("components[%d].depends_on[%d]", i, j)
			switch {
			case !ids[d]:
				bad(p, "unknown component %q", d)
			case d == comp.ID:
				bad(p, "a component cannot depend on itself")
			default:
				deps[comp.ID] = append(deps[comp.ID], d)
			}
		}
	}
	const (
		unseen = iota
		visiting
		done
	)
	state := map[string]int{}
	var visit func(id string, path []string) []string
	visit = func(id string, path []string) []string {
		switch state[id] {
		case visiting:
			return append(path, id)
		case done:
			return nil
		}
		state[id] = visiting
		for _, d := range deps[id] {
			if cycle := visit(d, append(path, id)); cycle != nil {
				return cycle
			}
		}
		state[id] = done
		return nil
	}
	for i, comp := range comps {
		if cycle := visit(comp.ID, nil); cycle != nil {
			bad(fmt.Sprintf("components[%d].depends_on", i), "a cycle: %s", strings.Join(cycle, " → "))
			return
		}
	}
}

// validateBrowser checks the browser section and returns the browser the
// browser checks share (nil when none is configured; a browser check then
// says what to set). Nothing starts until a check runs.
func validateBrowser(b *Browser, bad badFunc) *probes.Browser {
	switch {
	case b.ExecPath != "" && b.WSURL != "":
		bad("browser", "set exec_path or ws_url, not both")
		return nil
	case b.WSURL != "" && !strings.HasPrefix(b.WSURL, "ws://") && !strings.HasPrefix(b.WSURL, "wss://"):
		bad("browser.ws_url", "must be a ws:// or wss:// DevTools URL, got %q", b.WSURL)
		return nil
	case b.ExecPath != "":
		if _, err := exec.LookPath(b.ExecPath); err != nil {
			bad("browser.exec_path", "%v", err)
			return nil
		}
	case b.WSURL == "":
		return nil
	}
	if b.Concurrency == 0 {
		b.Concurrency = 2
	} else if b.Concurrency < 1 {
		bad("browser.concurrency", "must be at least 1")
	}
	return probes.NewBrowser(b.ExecPath, b.WSURL, b.Concurrency)
}
