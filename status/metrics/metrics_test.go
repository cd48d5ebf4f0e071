package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

func populated() *Metrics {
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	m := New(Options{Version: "test", PerCheckHistograms: true, Now: func() time.Time { return now },
		Outbox: func() (map[string]store.Depth, error) {
			return map[string]store.Depth{"ops-slack": {Pending: 3, Oldest: now.Add(-90 * time.Second)}}, nil
		},
		Subscribers: func() (map[store.SubKind]map[store.SubState]int, error) {
			return map[store.SubKind]map[store.SubState]int{store.KindEmail: {store.SubActive: 2, store.SubPending: 1}}, nil
		}})
	m.ObserveRun("http", probes.Report{Check: "api-1", Due: now, Started: now.Add(2 * time.Millisecond),
		Result: probes.Result{Outcome: probes.Down, Latency: 120 * time.Millisecond, Details: map[string]any{"dns_ms": 1.5, "connect_ms": 0.4, "first_byte_ms": 80.0}}})
	m.ObserveCommit(17, 3*time.Millisecond)
	m.ObserveSnapshot(&status.Snapshot{Components: []status.ComponentView{{ID: "api", Status: status.MajorOutage}},
		Incidents: []*status.Incident{{ID: "inc-1"}}})
	m.ObserveReload(false)
	m.ObserveDelivery("ops-slack", "sent")
	m.Cluster(raftReport{"state": "Follower", "term": "3", "commit_index": "12", "applied_index": "11", "last_log_index": "12",
		"num_peers": "2", "fsm_pending": "1", "last_contact": "42.5ms"},
		[]Certificate{{Kind: "node", NotAfter: now.Add(24 * time.Hour)}, {Kind: "ca", Subject: "Outpost cluster CA", NotAfter: now.Add(48 * time.Hour)}})
	return m
}

func TestLint(t *testing.T) {
	problems, err := testutil.GatherAndLint(populated().Registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestValues(t *testing.T) {
	m := populated()
	want := `
# HELP outpost_component_status 1 for each component's current status, 0 for the others.
# TYPE outpost_component_status gauge
outpost_component_status{component="api",status="degraded_performance"} 0
outpost_component_status{component="api",status="major_outage"} 1
outpost_component_status{component="api",status="operational"} 0
outpost_component_status{component="api",status="partial_outage"} 0
outpost_component_status{component="api",status="under_maintenance"} 0
# HELP outpost_outbox_depth Undelivered outbox rows by destination.
# TYPE outpost_outbox_depth gauge
outpost_outbox_depth{destination="ops-slack"} 3
# HELP outpost_outbox_oldest_age_seconds Age of the oldest undelivered row by destination.
# TYPE outpost_outbox_oldest_age_seconds gauge
outpost_outbox_oldest_age_seconds{destination="ops-slack"} 90
# HELP outpost_probe_runs_total Probe runs by check and outcome.
# TYPE outpost_probe_runs_total counter
outpost_probe_runs_total{check="api-1",outcome="down"} 1
# HELP outpost_results_committed_total Probe results committed to the store.
# TYPE outpost_results_committed_total counter
outpost_results_committed_total 17
# HELP outpost_incidents_open Open incidents (maintenance excluded).
# TYPE outpost_incidents_open gauge
outpost_incidents_open 1
# HELP outpost_config_reloads_total Configuration reloads by result (success, failure).
# TYPE outpost_config_reloads_total counter
outpost_config_reloads_total{result="failure"} 1
# HELP outpost_subscribers Subscribers by kind (webhook, email) and state.
# TYPE outpost_subscribers gauge
outpost_subscribers{kind="email",state="active"} 2
outpost_subscribers{kind="email",state="pending"} 1
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), "outpost_component_status", "outpost_outbox_depth",
		"outpost_outbox_oldest_age_seconds", "outpost_probe_runs_total", "outpost_results_committed_total",
		"outpost_incidents_open", "outpost_config_reloads_total", "outpost_subscribers"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.phase); n != 3 {
		t.Errorf("%d phase series, want dns, connect, first_byte", n)
	}
	if n := testutil.CollectAndCount(m.perCheck); n != 1 {
		t.Errorf("%d per-check histograms", n)
	}
	if New(Options{}).perCheck != nil {
		t.Error("per-check histograms are on by default")
	}
}
