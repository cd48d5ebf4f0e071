package status

import (
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
)

// A check marked affects: warning (an expiring certificate, say) tells
// operators when it goes bad and when it is fine again, and never moves
// its component's status, freshness, incidents or uptime.
func TestWarningChecksTellOperatorsOnly(t *testing.T) {
	m := &Model{SiteTitle: "Acme", AutoIncidents: true, ReopenWindow: time.Minute,
		Components: []ComponentDef{{ID: "api", Name: "API"}},
		Checks: []CheckDef{
			{Name: "api-http", Component: "api", FailureThreshold: 1, SuccessThreshold: 1, Every: 30 * time.Second},
			{Name: "api-cert", Component: "api", FailureThreshold: 1, SuccessThreshold: 1, Every: time.Hour, Warning: true},
		}}
	e := NewEngine(m, nil)
	now := t0
	step := func(rs ...CheckResult) *Changes {
		now = now.Add(time.Minute)
		for i := range rs {
			rs[i].At = now
		}
		return e.Apply(Batch{Now: now, Results: rs})
	}
	res := func(check string, o probes.Outcome, r probes.Reason) CheckResult {
		return CheckResult{Check: check, Result: probes.Result{Outcome: o, Reason: r, Message: "certificate expires in 5 days"}}
	}
	step(res("api-http", probes.Up, probes.ReasonOK), res("api-cert", probes.Up, probes.ReasonOK))
	var segments []Segment
	var events []Event
	for range 3 { // the certificate is expiring, for hours
		ch := step(res("api-http", probes.Up, probes.ReasonOK), res("api-cert", probes.Degraded, probes.ReasonCertExpiring))
		segments, events = append(segments, ch.Segments...), append(events, ch.Events...)
		now = now.Add(time.Hour) // hourly roll-ups happen meanwhile
	}
	ch := step(res("api-http", probes.Up, probes.ReasonOK), res("api-cert", probes.Up, probes.ReasonOK)) // renewed
	segments, events = append(segments, ch.Segments...), append(events, ch.Events...)

	if len(events) != 2 || events[0].Type != CheckWarning || events[1].Type != CheckWarningCleared ||
		!events[0].Type.OperatorsOnly() || events[0].Private == nil || events[0].Private.Checks[0].Name != "api-cert" {
		t.Fatalf("events %+v", events)
	}
	if len(segments) == 0 {
		t.Fatal("no roll-up segments: the test did not cross an hour")
	}
	for _, s := range segments {
		if s.Status != Operational {
			t.Errorf("uptime segment %+v: a warning moved the component", s)
		}
	}
	snap := e.Snapshot(now, t0)
	if c := snap.Components[0]; c.Status != Operational || c.Stale || c.NoData || len(snap.Incidents) != 0 {
		t.Errorf("component %+v, incidents %d", c, len(snap.Incidents))
	}
	// The status check still decides.
	ch = step(res("api-http", probes.Down, probes.ReasonTimeout), res("api-cert", probes.Up, probes.ReasonOK))
	if e.State().Components["api"].Status != MajorOutage || !hasEvent(ch, IncidentCreated) {
		t.Fatalf("the status check did not take the component down: %+v", eventTypes(ch))
	}
}

// A component in an outage whose dependency is in one too is shown as
// affected by it; its measured status stays, and one that is fine is not
// blamed on anything.
func TestDependencyIsNamed(t *testing.T) {
	m := &Model{SiteTitle: "Acme", AutoIncidents: true, ReopenWindow: time.Minute,
		Components: []ComponentDef{{ID: "db", Name: "Database"}, {ID: "api", Name: "API", DependsOn: []string{"db"}},
			{ID: "web", Name: "Website", DependsOn: []string{"db"}}},
		Checks: []CheckDef{
			{Name: "db-1", Component: "db", FailureThreshold: 1, SuccessThreshold: 1, Every: time.Minute},
			{Name: "api-1", Component: "api", FailureThreshold: 1, SuccessThreshold: 1, Every: time.Minute},
			{Name: "web-1", Component: "web", FailureThreshold: 1, SuccessThreshold: 1, Every: time.Minute},
		}}
	e := NewEngine(m, nil)
	res := func(c string, o probes.Outcome) CheckResult {
		return CheckResult{Check: c, At: t0, Result: probes.Result{Outcome: o, Reason: probes.ReasonTimeout}}
	}
	ch := e.Apply(Batch{Now: t0, Results: []CheckResult{res("db-1", probes.Down), res("api-1", probes.Down), res("web-1", probes.Up)}})
	s := e.Snapshot(t0, t0)
	if c := s.Components[1]; c.Status != MajorOutage || c.AffectedBy != "Database" {
		t.Errorf("api: %+v", c)
	}
	if c := s.Groups[0].Components[1]; c.AffectedBy != "Database" {
		t.Errorf("api in its group: %+v", c)
	}
	if s.Components[0].AffectedBy != "" || s.Components[2].AffectedBy != "" {
		t.Errorf("blamed what is fine or has no dependency: %+v", s.Components)
	}
	if n := len(e.openIncidents()); n != 1 || !hasEvent(ch, IncidentCreated) {
		t.Errorf("%d open incidents: the dependent failure should join the dependency's", n)
	}
	// Website fails later: it joins the incident without a post of its own.
	later := t0.Add(time.Minute)
	ch = e.Apply(Batch{Now: later, Results: []CheckResult{{Check: "web-1", At: later, Result: probes.Result{Outcome: probes.Down, Reason: probes.ReasonTimeout}}}})
	inc := e.State().Incidents[e.openIncidents()[0]]
	if hasEvent(ch, IncidentUpdated) || hasEvent(ch, IncidentCreated) || len(inc.Updates) != 1 || !inc.affects("web") {
		t.Errorf("the dependent's failure: events %v, %d updates, components %v", eventTypes(ch), len(inc.Updates), inc.Components)
	}
	// The dependency recovers, its dependents too: the incident resolves.
	end := later.Add(time.Minute)
	ch = e.Apply(Batch{Now: end, Results: []CheckResult{res("db-1", probes.Up), res("api-1", probes.Up), res("web-1", probes.Up)}})
	if !hasEvent(ch, IncidentResolved) {
		t.Errorf("no resolution: %v", eventTypes(ch))
	}
}
