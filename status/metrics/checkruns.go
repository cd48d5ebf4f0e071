package metrics

import (
	"bufio"
	"cmp"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outpost-status/outpost/probes"
)

// checkRuns exports outpost_probe_runs_total (by check and outcome) and
// outpost_probe_last_duration_seconds (by check), made at scrape from a few
// numbers a check: a client_golang series keeps its label pairs, a created
// timestamp and a place in its vector's map, about a kilobyte, and every
// check has two or more (4 MiB at 5,000 checks). The exposition is the
// same: an outcome's series appears once the check had a run of it.
type checkRuns struct {
	runs, last *prometheus.Desc
	location   string // the location label's value; "" for none

	mu     sync.Mutex
	checks map[string]*checkRun
}

// checkRun is one check's numbers. Checks are never forgotten, as the
// vectors' series were not.
type checkRun struct {
	runs [len(outcomes)]uint64 // by outcome; a series exists once counted
	last float64               // seconds
}

var outcomes = [...]probes.Outcome{probes.Up, probes.Degraded, probes.Down}

const (
	runsHelp = "Probe runs by check and outcome."
	lastHelp = "Duration of each check's last run."
)

func newCheckRuns(location string) *checkRuns {
	at := where(location)
	return &checkRuns{checks: map[string]*checkRun{}, location: location,
		runs: prometheus.NewDesc("outpost_probe_runs_total", runsHelp, []string{"check", "outcome"}, at),
		last: prometheus.NewDesc("outpost_probe_last_duration_seconds", lastHelp, []string{"check"}, at)}
}

func (c *checkRuns) observe(check string, o probes.Outcome, seconds float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.checks[check]
	if r == nil {
		r = &checkRun{}
		c.checks[check] = r
	}
	if int(o) < len(outcomes) {
		r.runs[o]++
	}
	r.last = seconds
}

// Describe implements prometheus.Collector.
func (c *checkRuns) Describe(ch chan<- *prometheus.Desc) { ch <- c.runs; ch <- c.last }

// Collect implements prometheus.Collector. The numbers are copied out
// first so that a slow scrape never holds up a probe's report.
func (c *checkRuns) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.copied() {
		for o, n := range p.run.runs {
			if n > 0 {
				ch <- prometheus.MustNewConstMetric(c.runs, prometheus.CounterValue, float64(n), p.check, outcomes[o].String())
			}
		}
		ch <- prometheus.MustNewConstMetric(c.last, prometheus.GaugeValue, p.run.last, p.check)
	}
}

// namedRun is a check's numbers copied out with its name.
type namedRun struct {
	check string
	run   checkRun
}

// copied is every check's numbers, by name, copied out first so that a
// slow scrape never holds up a probe's report.
func (c *checkRuns) copied() []namedRun {
	c.mu.Lock()
	all := make([]namedRun, 0, len(c.checks))
	for name, r := range c.checks {
		all = append(all, namedRun{name, *r})
	}
	c.mu.Unlock()
	slices.SortFunc(all, func(a, b namedRun) int { return cmp.Compare(a.check, b.check) })
	return all
}

// byName are the outcomes in the order of their names, client_golang's
// order of a check's series.
var byName = [...]probes.Outcome{probes.Degraded, probes.Down, probes.Up}

// writeRuns writes outpost_probe_runs_total of the numbers copied.
func (c *checkRuns) writeRuns(w *bufio.Writer, copied []namedRun) {
	f := textFamily{w: w, name: "outpost_probe_runs_total", help: runsHelp, kind: "counter"}
	for _, p := range copied {
		for _, o := range byName {
			if n := p.run.runs[o]; n > 0 {
				if c.location == "" {
					f.line(float64(n), "check", p.check, "outcome", o.String())
				} else {
					f.line(float64(n), "check", p.check, "location", c.location, "outcome", o.String())
				}
			}
		}
	}
}

// writeLast writes outpost_probe_last_duration_seconds of the numbers
// copied.
func (c *checkRuns) writeLast(w *bufio.Writer, copied []namedRun) {
	f := textFamily{w: w, name: "outpost_probe_last_duration_seconds", help: lastHelp, kind: "gauge"}
	for _, p := range copied {
		if c.location == "" {
			f.line(p.run.last, "check", p.check)
		} else {
			f.line(p.run.last, "check", p.check, "location", c.location)
		}
	}
}
