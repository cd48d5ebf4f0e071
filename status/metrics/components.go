package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outpost-status/outpost/status"
)

// componentStatus exports outpost_component_status (1 for each component's
// current status, 0 for the others) from the statuses last observed, made
// at scrape: a GaugeVec kept five series a component, about 13 MB at 5,000
// components for numbers a map of statuses already says.
type componentStatus struct {
	desc *prometheus.Desc

	mu sync.Mutex
	// observed is each component's status, "" while it has no data (every
	// number 0). Components are never forgotten, as the gauges were not.
	observed map[string]status.ComponentStatus
}

func newComponentStatus() *componentStatus {
	return &componentStatus{observed: map[string]status.ComponentStatus{},
		desc: prometheus.NewDesc("outpost_component_status", "1 for each component's current status, 0 for the others.", []string{"component", "status"}, nil)}
}

func (c *componentStatus) observe(s *status.Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range s.Components {
		st := v.Status
		if v.NoData {
			st = ""
		}
		c.observed[v.ID] = st
	}
}

// Describe implements prometheus.Collector.
func (c *componentStatus) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector. The statuses are copied out
// first so that a slow scrape never holds up the snapshot's publisher.
func (c *componentStatus) Collect(ch chan<- prometheus.Metric) {
	type pair struct {
		id string
		st status.ComponentStatus
	}
	c.mu.Lock()
	all := make([]pair, 0, len(c.observed))
	for id, st := range c.observed {
		all = append(all, pair{id, st})
	}
	c.mu.Unlock()
	for _, p := range all {
		for _, st := range allStatuses {
			v := 0.0
			if p.st == st {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, p.id, string(st))
		}
	}
}
