// Package metrics defines Outpost's Prometheus metrics on a registry of
// its own (no global state), fed by the monitor and read at /metrics.
package metrics

import (
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// Options tunes the metrics.
type Options struct {
	Version string
	// PerCheckHistograms adds a duration histogram per check: precise, but
	// ~12 series per check, too many at 10,000 checks by default.
	PerCheckHistograms bool
	// Outbox reads outbox depth at scrape time (nil: not exported).
	Outbox func() (map[string]store.Depth, error)
	// Subscribers reads subscribers by kind and state at scrape time (nil:
	// not exported).
	Subscribers func() (map[store.SubKind]map[store.SubState]int, error)
	Now         func() time.Time
	// Location is this node's location in a cluster: every series about
	// checks carries it as the label location, so each location's series
	// of a check stay apart in one Prometheus. Empty on a single node,
	// whose series are unchanged.
	Location string
}

// Metrics holds every collector.
type Metrics struct {
	Registry *prometheus.Registry
	expo     textPath

	runs          *checkRuns
	duration      *prometheus.HistogramVec
	phase         *prometheus.HistogramVec
	perCheck      *prometheus.HistogramVec
	lag           prometheus.Histogram
	committed     prometheus.Counter
	commitFails   prometheus.Counter
	dropped       prometheus.Counter
	commitLatency prometheus.Histogram
	component     *componentStatus
	openIncidents prometheus.Gauge
	reloads       *prometheus.CounterVec
	deliveries    *prometheus.CounterVec
	// deadmanPings counts dead man's switch pings by result (ok, failed,
	// skipped while unhealthy).
	deadmanPings *prometheus.CounterVec
}

var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New creates and registers the metrics.
func New(o Options) *Metrics {
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Metrics{Registry: prometheus.NewRegistry(), expo: textPath{rest: prometheus.NewRegistry()}}
	at := where(o.Location)
	m.runs = newCheckRuns(o.Location)
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "outpost_probe_duration_seconds",
		Help: "Probe run durations by kind.", Buckets: latencyBuckets, ConstLabels: at}, []string{"kind"})
	m.phase = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "outpost_probe_phase_duration_seconds",
		Help: "HTTP probe phase durations (dns, connect, tls, first_byte).", Buckets: latencyBuckets, ConstLabels: at}, []string{"kind", "phase"})
	m.lag = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "outpost_scheduler_lag_seconds",
		Help: "How late runs started against their due time.", Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10}})
	m.committed = prometheus.NewCounter(prometheus.CounterOpts{Name: "outpost_results_committed_total",
		Help: "Probe results committed to the store."})
	m.commitFails = prometheus.NewCounter(prometheus.CounterOpts{Name: "outpost_commit_failures_total",
		Help: "Engine steps whose commit failed; nothing of such a step is in force."})
	m.dropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "outpost_results_dropped_total",
		Help: "Probe results shed before they reached a committed step."})
	m.commitLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "outpost_commit_duration_seconds",
		Help: "Duration of store commits (one per engine step).", Buckets: latencyBuckets})
	m.component = newComponentStatus()
	m.openIncidents = prometheus.NewGauge(prometheus.GaugeOpts{Name: "outpost_incidents_open",
		Help: "Open incidents (maintenance excluded)."})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "outpost_config_reloads_total",
		Help: "Configuration reloads by result (success, failure)."}, []string{"result"})
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "outpost_deliveries_total",
		Help: "Outbox deliveries by destination and result."}, []string{"destination", "result"})
	m.deadmanPings = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "outpost_deadman_pings_total",
		Help: "Dead man's switch pings by result (ok, failed, skipped)."}, []string{"result"})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "outpost_build_info",
		Help: "Build information; the value is always 1."}, []string{"version", "goversion"})
	build.WithLabelValues(o.Version, runtime.Version()).Set(1)
	// The streamed families (expose.go) are in the whole registry only.
	m.Registry.MustRegister(m.runs, m.component)
	m.register(m.duration, m.phase, m.lag, m.committed, m.commitFails, m.dropped, m.commitLatency,
		m.openIncidents, m.reloads, m.deliveries, m.deadmanPings, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if o.PerCheckHistograms {
		m.perCheck = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "outpost_probe_check_duration_seconds",
			Help: "Probe run durations by check.", Buckets: latencyBuckets, ConstLabels: at}, []string{"check"})
		m.register(m.perCheck)
	}
	if o.Outbox != nil {
		m.register(&outboxCollector{read: o.Outbox, now: o.Now})
	}
	if o.Subscribers != nil {
		m.register(subscriberCollector(o.Subscribers))
	}
	return m
}

// where is the constant label of the series about checks: the node's
// location in a cluster, none on a single node.
func where(location string) prometheus.Labels {
	if location == "" {
		return nil
	}
	return prometheus.Labels{"location": location}
}

// phases are the HTTP probe details reported as phase timings.
var phases = map[string]string{"dns_ms": "dns", "connect_ms": "connect", "tls_ms": "tls", "first_byte_ms": "first_byte"}

// ObserveDeadman counts one dead man's switch ping by its result.
func (m *Metrics) ObserveDeadman(result string) { m.deadmanPings.WithLabelValues(result).Inc() }

// ObserveDelivery counts one delivery outcome of one destination (a
// channel, or @webhooks), for every delivery loop alike.
func (m *Metrics) ObserveDelivery(dest, result string) {
	m.deliveries.WithLabelValues(dest, result).Inc()
}

// ObserveRun records one probe run.
func (m *Metrics) ObserveRun(kind string, r probes.Report) {
	d := r.Result.Latency.Seconds()
	m.runs.observe(r.Check, r.Result.Outcome, d)
	m.duration.WithLabelValues(kind).Observe(d)
	if m.perCheck != nil {
		m.perCheck.WithLabelValues(r.Check).Observe(d)
	}
	for key, name := range phases {
		if v, ok := r.Result.Details[key].(float64); ok {
			m.phase.WithLabelValues(kind, name).Observe(v / 1000)
		}
	}
	if !r.Recheck {
		m.lag.Observe(max(r.Lag().Seconds(), 0))
	}
}

// ObserveCommit records one store commit.
func (m *Metrics) ObserveCommit(results int, d time.Duration) {
	m.committed.Add(float64(results))
	m.commitLatency.Observe(d.Seconds())
}

// ObserveCommitFailure counts a step whose commit failed.
func (m *Metrics) ObserveCommitFailure() { m.commitFails.Inc() }

// ObserveDropped counts results shed before any commit took them.
func (m *Metrics) ObserveDropped(n int) { m.dropped.Add(float64(n)) }

var allStatuses = []status.ComponentStatus{status.Operational, status.DegradedPerformance, status.PartialOutage,
	status.MajorOutage, status.UnderMaintenance}

// ObserveSnapshot records component statuses (all 0 for a component with
// no data yet) and the open incidents.
func (m *Metrics) ObserveSnapshot(s *status.Snapshot) {
	m.component.observe(s)
	m.openIncidents.Set(float64(len(s.Incidents)))
}

// ObserveReload counts a config reload.
func (m *Metrics) ObserveReload(ok bool) {
	if ok {
		m.reloads.WithLabelValues("success").Inc()
	} else {
		m.reloads.WithLabelValues("failure").Inc()
	}
}

// outboxCollector reads the outbox depth when scraped.
type outboxCollector struct {
	read func() (map[string]store.Depth, error)
	now  func() time.Time
}

var (
	depthDesc = prometheus.NewDesc("outpost_outbox_depth", "Undelivered outbox rows by destination.", []string{"destination"}, nil)
	ageDesc   = prometheus.NewDesc("outpost_outbox_oldest_age_seconds", "Age of the oldest undelivered row by destination.", []string{"destination"}, nil)
)

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- depthDesc; ch <- ageDesc }

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	depth, err := c.read()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(depthDesc, err)
		return
	}
	for dest, d := range depth {
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(d.Pending), dest)
		ch <- prometheus.MustNewConstMetric(ageDesc, prometheus.GaugeValue, c.now().Sub(d.Oldest).Seconds(), dest)
	}
}

// subscriberCollector reads subscribers by kind and state when scraped:
// counts only, never an address.
type subscriberCollector func() (map[store.SubKind]map[store.SubState]int, error)

var subsDesc = prometheus.NewDesc("outpost_subscribers", "Subscribers by kind (webhook, email) and state.", []string{"kind", "state"}, nil)

func (c subscriberCollector) Describe(ch chan<- *prometheus.Desc) { ch <- subsDesc }

func (c subscriberCollector) Collect(ch chan<- prometheus.Metric) {
	counts, err := c()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(subsDesc, err)
		return
	}
	for kind, states := range counts {
		for state, n := range states {
			ch <- prometheus.MustNewConstMetric(subsDesc, prometheus.GaugeValue, float64(n), string(kind), string(state))
		}
	}
}
