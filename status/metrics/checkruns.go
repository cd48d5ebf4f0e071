package metrics

import (
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

func newCheckRuns(at prometheus.Labels) *checkRuns {
	return &checkRuns{checks: map[string]*checkRun{},
		runs: prometheus.NewDesc("outpost_probe_runs_total", "Probe runs by check and outcome.", []string{"check", "outcome"}, at),
		last: prometheus.NewDesc("outpost_probe_last_duration_seconds", "Duration of each check's last run.", []string{"check"}, at)}
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
	type pair struct {
		check string
		run   checkRun
	}
	c.mu.Lock()
	all := make([]pair, 0, len(c.checks))
	for name, r := range c.checks {
		all = append(all, pair{name, *r})
	}
	c.mu.Unlock()
	for _, p := range all {
		for o, n := range p.run.runs {
			if n > 0 {
				ch <- prometheus.MustNewConstMetric(c.runs, prometheus.CounterValue, float64(n), p.check, outcomes[o].String())
			}
		}
		ch <- prometheus.MustNewConstMetric(c.last, prometheus.GaugeValue, p.run.last, p.check)
	}
}
