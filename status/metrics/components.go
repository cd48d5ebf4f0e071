package metrics

import (
	"bufio"
	"cmp"
	"slices"
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

const componentHelp = "1 for each component's current status, 0 for the others."

func newComponentStatus() *componentStatus {
	return &componentStatus{observed: map[string]status.ComponentStatus{},
		desc: prometheus.NewDesc("outpost_component_status", componentHelp, []string{"component", "status"}, nil)}
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
	for _, p := range c.copied() {
		for _, st := range allStatuses {
			v := 0.0
			if p.st == st {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, p.id, string(st))
		}
	}
}

// componentIs is a component's status copied out with its id.
type componentIs struct {
	id string
	st status.ComponentStatus
}

// copied is every component's status, by id, copied out first so that a
// slow scrape never holds up the snapshot's publisher.
func (c *componentStatus) copied() []componentIs {
	c.mu.Lock()
	all := make([]componentIs, 0, len(c.observed))
	for id, st := range c.observed {
		all = append(all, componentIs{id, st})
	}
	c.mu.Unlock()
	slices.SortFunc(all, func(a, b componentIs) int { return cmp.Compare(a.id, b.id) })
	return all
}

// statusesByName are allStatuses in the order of their names,
// client_golang's order of a component's series.
var statusesByName = [...]status.ComponentStatus{status.DegradedPerformance, status.MajorOutage, status.Operational,
	status.PartialOutage, status.UnderMaintenance}

// writeText writes outpost_component_status in the text format.
func (c *componentStatus) writeText(w *bufio.Writer) {
	f := textFamily{w: w, name: "outpost_component_status", help: componentHelp, kind: "gauge"}
	for _, p := range c.copied() {
		for _, st := range statusesByName {
			v := 0.0
			if p.st == st {
				v = 1
			}
			f.line(v, "component", p.id, "status", string(st))
		}
	}
}
