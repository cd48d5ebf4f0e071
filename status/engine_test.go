package status

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
)

var t0 = time.Date(2026, 3, 10, 14, 2, 0, 0, time.UTC)

func testModel() *Model {
	return &Model{
		SiteTitle: "Acme", AutoIncidents: true, ReopenWindow: 10 * time.Minute,
		Components: []ComponentDef{
			{ID: "api", Name: "API", Group: "Platform"},
			{ID: "web", Name: "Website", Group: "Platform"},
			{ID: "db", Name: "Database"},
		},
		Checks: []CheckDef{
			{Name: "api-1", Component: "api", FailureThreshold: 3, SuccessThreshold: 2, RecheckInterval: 2 * time.Second, Every: 30 * time.Second},
			{Name: "api-2", Component: "api", FailureThreshold: 3, SuccessThreshold: 2, RecheckInterval: 2 * time.Second, Every: 30 * time.Second},
			{Name: "web-1", Component: "web", FailureThreshold: 3, SuccessThreshold: 2, RecheckInterval: 2 * time.Second, Every: 30 * time.Second},
			{Name: "db-1", Component: "db", FailureThreshold: 1, SuccessThreshold: 1, Every: 30 * time.Second},
		},
	}
}

// harness drives an engine with a fake clock.
type harness struct {
	t   *testing.T
	e   *Engine
	now time.Time
	log []*Changes
}

func newHarness(t *testing.T, m *Model) *harness {
	h := &harness{t: t, e: NewEngine(m, nil), now: t0}
	h.step() // components appear
	return h
}

func (h *harness) step(rs ...CheckResult) *Changes {
	ch := h.e.Apply(Batch{Now: h.now, Results: rs})
	h.log = append(h.log, ch)
	return ch
}

func (h *harness) run(check string, o probes.Outcome, reason probes.Reason) *Changes {
	h.now = h.now.Add(2 * time.Second)
	return h.step(CheckResult{Check: check, At: h.now, Result: probes.Result{Outcome: o, Reason: reason, Message: "dial tcp 10.1.2.3:443: refused"}})
}

func (h *harness) times(n int, check string, o probes.Outcome, reason probes.Reason) *Changes {
	var ch *Changes
	for range n {
		ch = h.run(check, o, reason)
	}
	return ch
}

func (h *harness) comp(id string) ComponentStatus { return h.e.State().Components[id].Status }

func (h *harness) open() []*Incident {
	var out []*Incident
	for _, inc := range h.e.sortedIncidents() {
		if inc.Open() && inc.Maintenance == nil {
			out = append(out, inc)
		}
	}
	return out
}

func eventTypes(ch *Changes) []EventType {
	var out []EventType
	for _, e := range ch.Events {
		out = append(out, e.Type)
	}
	return out
}

func hasEvent(ch *Changes, t EventType) bool {
	for _, e := range ch.Events {
		if e.Type == t {
			return true
		}
	}
	return false
}

const (
	up   = probes.Up
	deg  = probes.Degraded
	down = probes.Down
	ok   = probes.ReasonOK
	refu = probes.ReasonConnectionRefused
	slow = probes.ReasonSlow
)

func TestThresholdsAndRechecks(t *testing.T) {
	h := newHarness(t, testModel())
	h.run("api-1", up, ok)
	h.run("api-2", up, ok)
	ch := h.run("api-1", down, refu)
	if h.e.State().Checks["api-1"].Status != CheckUp || h.comp("api") != Operational {
		t.Fatal("one failure moved the check")
	}
	if len(ch.Rechecks) != 1 || ch.Rechecks[0].Check != "api-1" || !ch.Rechecks[0].At.Equal(h.now.Add(2*time.Second)) {
		t.Fatalf("rechecks after a first failure: %+v", ch.Rechecks)
	}
	firstFailure := h.now
	h.run("api-1", down, refu)
	ch = h.run("api-1", down, refu)
	if h.e.State().Checks["api-1"].Status != CheckDown {
		t.Fatal("three failures did not confirm down")
	}
	if len(ch.Rechecks) != 0 {
		t.Errorf("recheck after confirmation: %+v", ch.Rechecks)
	}
	if h.comp("api") != PartialOutage {
		t.Fatalf("one of two checks down: %s", h.comp("api"))
	}
	if got := eventTypes(ch); len(got) != 2 || got[0] != ComponentStatusChanged || got[1] != IncidentCreated {
		t.Fatalf("events %v", got)
	}
	inc := ch.Events[1].Incident
	if inc.Name != "API is partially unavailable" || inc.Impact != ImpactMajor || inc.Status != Investigating || !inc.Auto {
		t.Fatalf("incident %+v", inc)
	}
	if !inc.StartedAt.Equal(firstFailure) {
		t.Errorf("started at %v, want the first failure %v", inc.StartedAt, firstFailure)
	}
	want := "We are investigating connection failures affecting API since 14:02 UTC."
	if inc.Updates[0].Body != want {
		t.Errorf("first update %q, want %q", inc.Updates[0].Body, want)
	}
	// Public text never names checks, targets or raw errors; operators get them.
	if b, _ := json.Marshal(inc); strings.Contains(string(b), "api-1") || strings.Contains(string(b), "10.1.2.3") {
		t.Errorf("incident leaks private details: %s", b)
	}
	if p := ch.Events[1].Private; p == nil || p.Checks[0].Name != "api-1" || !strings.Contains(p.Checks[0].Message, "10.1.2.3") {
		t.Errorf("operators' details: %+v", p)
	}
	// All checks down → major outage, impact rises, same incident.
	ch = h.times(3, "api-2", down, probes.ReasonTimeout)
	if h.comp("api") != MajorOutage || len(h.open()) != 1 || h.open()[0].Impact != ImpactCritical {
		t.Fatalf("api %s, open %d", h.comp("api"), len(h.open()))
	}
	if !hasEvent(ch, IncidentUpdated) || !strings.Contains(h.open()[0].Latest().Body, "has grown to a major outage") {
		t.Errorf("worsening not announced: %v %q", eventTypes(ch), h.open()[0].Latest().Body)
	}
	// Recovery needs success_threshold good runs, then resolves.
	h.run("api-1", up, ok)
	h.times(2, "api-2", up, ok)
	if h.comp("api") != PartialOutage {
		t.Fatalf("one good run recovered api-1: %s", h.comp("api"))
	}
	ch = h.run("api-1", up, ok)
	if h.comp("api") != Operational || len(h.open()) != 0 || !hasEvent(ch, IncidentResolved) {
		t.Fatalf("not resolved: %s %v", h.comp("api"), eventTypes(ch))
	}
	last := ch.Events[len(ch.Events)-1].Incident.Latest()
	if !strings.HasPrefix(last.Body, "This incident has been resolved. API was affected for under a minute (14:02 UTC to 14:02 UTC)") {
		t.Errorf("resolution text %q", last.Body)
	}
}

func TestDegraded(t *testing.T) {
	h := newHarness(t, testModel())
	h.run("web-1", up, ok)
	h.times(2, "web-1", deg, slow)
	if h.comp("web") != Operational {
		t.Fatal("degraded before the threshold")
	}
	ch := h.run("web-1", deg, slow)
	if h.comp("web") != DegradedPerformance {
		t.Fatalf("web %s", h.comp("web"))
	}
	if hasEvent(ch, IncidentCreated) {
		t.Error("degraded performance opened an incident")
	}
	h.times(2, "web-1", up, ok)
	if h.comp("web") != Operational {
		t.Fatalf("web %s after recovery", h.comp("web"))
	}
}

func TestMultiComponentIncident(t *testing.T) {
	h := newHarness(t, testModel())
	h.times(2, "web-1", up, ok) // seen operational: it joins from there (without data, from nothing: TestNoDataHasNoOldStatus)
	h.times(3, "api-1", down, refu)
	h.times(3, "api-2", down, refu)
	ch := h.times(3, "web-1", down, probes.ReasonStatusMismatch)
	open := h.open()
	if len(open) != 1 {
		t.Fatalf("%d incidents, want one shared", len(open))
	}
	if got := open[0].Components; len(got) != 2 || got[0] != "api" || got[1] != "web" {
		t.Fatalf("components %v", got)
	}
	if !hasEvent(ch, IncidentUpdated) || !strings.Contains(open[0].Latest().Body, "Website is also affected: we are seeing an elevated error rate") {
		t.Fatalf("join update %q", open[0].Latest().Body)
	}
	if a := open[0].Latest().Affected; len(a) != 1 || a[0].Code != "web" || a[0].OldStatus != Operational || a[0].NewStatus != MajorOutage {
		t.Fatalf("a joining component's change: %+v, want web operational → major_outage", a)
	}
	// A component degraded before it fails joins with its real old status.
	h.run("db-1", probes.Degraded, probes.ReasonSlow)
	h.run("db-1", down, refu)
	if a := h.open()[0].Latest().Affected; len(a) != 1 || a[0].Code != "db" || a[0].OldStatus != DegradedPerformance {
		t.Fatalf("a degraded component joining: %+v, want old_status degraded_performance", a)
	}
	h.times(2, "db-1", up, ok)
	h.times(2, "api-1", up, ok)
	h.times(2, "api-2", up, ok)
	if len(h.open()) != 1 {
		t.Fatal("resolved while web is still down")
	}
	ch = h.times(2, "web-1", up, ok)
	if !hasEvent(ch, IncidentResolved) || !strings.Contains(ch.Events[len(ch.Events)-1].Incident.Latest().Body, "API, Website and Database were affected") {
		t.Fatalf("resolution %v", eventTypes(ch))
	}
}

func TestFlappingReopensTheSameIncident(t *testing.T) {
	h := newHarness(t, testModel())
	h.run("db-1", down, refu)
	first := h.open()[0].ID
	for range 5 { // up/down every few seconds
		if ch := h.run("db-1", up, ok); !hasEvent(ch, IncidentResolved) {
			t.Fatal("not resolved on recovery")
		}
		ch := h.run("db-1", down, refu)
		if hasEvent(ch, IncidentCreated) || h.open()[0].ID != first {
			t.Fatalf("a flap opened a new incident (%v)", eventTypes(ch))
		}
	}
	if n := len(h.e.State().Incidents); n != 1 {
		t.Fatalf("%d incidents after flapping", n)
	}
	h.run("db-1", up, ok)
	h.now = h.now.Add(11 * time.Minute) // past the reopen window
	if ch := h.run("db-1", down, refu); !hasEvent(ch, IncidentCreated) || h.open()[0].ID == first {
		t.Fatal("a failure after the window did not open a new incident")
	}
}

// A reopened incident counts the time spent in outage, not the span: three
// 50-second outages a minute apart are 2½ minutes of outage in 4½.
func TestReopenedDurationIsTheSumOfOutages(t *testing.T) {
	h := newHarness(t, testModel())
	at := func(d time.Duration, o probes.Outcome, r probes.Reason) *Changes {
		h.now = t0.Add(d)
		return h.step(CheckResult{Check: "db-1", At: h.now, Result: probes.Result{Outcome: o, Reason: r}})
	}
	var ch *Changes
	for i := range 3 {
		start := time.Duration(i) * 110 * time.Second
		at(start+time.Second, down, refu)
		ch = at(start+51*time.Second, up, ok)
	}
	if !hasEvent(ch, IncidentResolved) {
		t.Fatal("not resolved")
	}
	inc := ch.Events[len(ch.Events)-1].Incident
	if got := inc.Downtime(h.now); got != 150*time.Second {
		t.Fatalf("downtime %v, want 2m30s", got)
	}
	if body := inc.Latest().Body; !strings.Contains(body, "Database was affected for a total of 2 minutes between 14:02 UTC and 14:06 UTC.") {
		t.Fatalf("resolution text %q", body)
	}
}

func TestHumanResolveSuppresses(t *testing.T) {
	h := newHarness(t, testModel())
	h.run("db-1", down, refu)
	id := h.open()[0].ID
	h.now = h.now.Add(time.Second)
	ch := h.e.Apply(Batch{Now: h.now, Commands: []Command{
		{Kind: UpdateIncident, IncidentID: id, Status: Identified, Body: "A bad deploy; rolling back.", Author: "oncall"},
		{Kind: UpdateIncident, IncidentID: id, Status: Resolved, Body: "Rolled back. Monitoring shows a false alarm.", Author: "oncall"},
	}})
	if ch.Replies[0].Err != "" || ch.Replies[1].Err != "" {
		t.Fatalf("replies %+v", ch.Replies)
	}
	if got := eventTypes(ch); len(got) != 2 || got[0] != IncidentUpdated || got[1] != IncidentResolved {
		t.Fatalf("events %v", got)
	}
	inc := h.e.State().Incidents[id]
	if inc.Updates[1].Author != "oncall" || inc.Updates[1].Status != Identified {
		t.Errorf("updates %+v", inc.Updates)
	}
	for range 3 {
		if ch := h.run("db-1", down, refu); hasEvent(ch, IncidentCreated) || hasEvent(ch, IncidentUpdated) || len(h.open()) != 0 {
			t.Fatal("a suppressed component reopened an incident")
		}
	}
	h.run("db-1", up, ok)
	if h.e.State().Components["db"].Suppressed {
		t.Fatal("suppression outlived recovery")
	}
	h.now = h.now.Add(11 * time.Minute)
	if ch := h.run("db-1", down, refu); !hasEvent(ch, IncidentCreated) {
		t.Fatal("after recovery, failures do not open incidents again")
	}
	if ch := h.e.Apply(Batch{Now: h.now, Commands: []Command{{Kind: UpdateIncident, IncidentID: "inc-999", Status: Resolved}}}); ch.Replies[0].Err == "" {
		t.Error("updating an unknown incident succeeded")
	}
}

func TestManualIncident(t *testing.T) {
	h := newHarness(t, testModel())
	ch := h.e.Apply(Batch{Now: h.now, Commands: []Command{{Kind: CreateIncident, Name: "Elevated API latency",
		Body: "We are looking into slow API responses.", Components: map[string]ComponentStatus{"api": DegradedPerformance}, Author: "oncall"}}})
	id := ch.Replies[0].IncidentID
	if id == "" || h.comp("api") != DegradedPerformance || !hasEvent(ch, IncidentCreated) {
		t.Fatalf("manual incident: %+v %s", ch.Replies, h.comp("api"))
	}
	if inc := h.e.State().Incidents[id]; inc.Impact != ImpactMinor || inc.Auto {
		t.Errorf("impact %s auto %v", inc.Impact, inc.Auto)
	}
	h.run("api-1", up, ok) // checks are fine, but the person's word stands
	if h.comp("api") != DegradedPerformance {
		t.Fatal("checks overrode a manual status")
	}
	h.e.Apply(Batch{Now: h.now, Commands: []Command{{Kind: UpdateIncident, IncidentID: id, Status: Resolved, Body: "Fixed."}}})
	h.step()
	if h.comp("api") != Operational {
		t.Fatalf("api %s after resolve", h.comp("api"))
	}
	bad := h.e.Apply(Batch{Now: h.now, Commands: []Command{
		{Kind: CreateIncident, Name: "x", Components: map[string]ComponentStatus{"nope": MajorOutage}},
		{Kind: CreateIncident, Name: "x", Status: "exploded"},
		{Kind: CreateIncident},
	}})
	for i, r := range bad.Replies {
		if r.Err == "" {
			t.Errorf("bad command %d accepted", i)
		}
	}
}

// halfPast fires at half past every hour.
type halfPast struct{}

func (halfPast) Next(t time.Time) time.Time {
	n := t.Truncate(time.Hour).Add(30 * time.Minute)
	if !n.After(t) {
		n = n.Add(time.Hour)
	}
	return n
}

func TestMaintenance(t *testing.T) {
	m := testModel()
	m.Maintenance = []MaintenanceDef{
		{ID: "db-upgrade", Name: "Database upgrade", Components: []string{"db"}, Start: t0.Add(time.Minute), End: t0.Add(31 * time.Minute)},
		{ID: "hourly", Name: "Hourly web restart", Components: []string{"web"}, Schedule: halfPast{}, Duration: 5 * time.Minute},
	}
	h := newHarness(t, m)
	upcoming := h.e.Snapshot(h.now, t0).Upcoming
	if len(upcoming) != 2 || upcoming[0].WindowID != "db-upgrade" {
		t.Fatalf("upcoming %+v", upcoming)
	}
	// Published when the window was first seen (the first step, at t0).
	if up := upcoming[0]; up.ID != "mnt-db-upgrade-"+fmt.Sprint(t0.Add(time.Minute).Unix()) || !up.Published.Equal(t0) {
		t.Fatalf("upcoming occurrence: id %s published %s", up.ID, up.Published)
	}
	h.now = t0.Add(time.Minute)
	ch := h.step()
	if !hasEvent(ch, MaintenanceStarted) || h.comp("db") != UnderMaintenance {
		t.Fatalf("window did not start: %v %s", eventTypes(ch), h.comp("db"))
	}
	// The same identity once started: id and creation time.
	if started := h.e.Snapshot(h.now, t0).Maintenance; len(started) != 1 || started[0].ID != upcoming[0].ID || !started[0].CreatedAt.Equal(upcoming[0].Published) {
		t.Fatalf("started occurrence %s created %s, upcoming was %s created %s", started[0].ID, started[0].CreatedAt, upcoming[0].ID, upcoming[0].Published)
	}
	ch = h.times(3, "db-1", down, refu)
	if len(h.open()) != 0 || h.comp("db") != UnderMaintenance {
		t.Fatalf("failure during maintenance opened an incident (%v)", eventTypes(ch))
	}
	snap := h.e.Snapshot(h.now, t0)
	if len(snap.Maintenance) != 1 || snap.Indicator != ImpactNone && snap.Indicator != ImpactMaintenance {
		t.Fatalf("snapshot during maintenance: %+v", snap)
	}
	h.run("db-1", up, ok)
	h.now = t0.Add(31 * time.Minute)
	ch = h.step()
	if !hasEvent(ch, MaintenanceCompleted) || h.comp("db") != Operational {
		t.Fatalf("window did not end: %v %s", eventTypes(ch), h.comp("db"))
	}
	// The recurring window: hh:30–hh:35 every hour.
	h.now = time.Date(2026, 3, 10, 14, 30, 30, 0, time.UTC)
	if ch = h.step(); !hasEvent(ch, MaintenanceStarted) || h.comp("web") != UnderMaintenance {
		t.Fatalf("recurring window did not start: %v", eventTypes(ch))
	}
	h.now = h.now.Add(5 * time.Minute)
	if ch = h.step(); !hasEvent(ch, MaintenanceCompleted) || h.comp("web") != Operational {
		t.Fatalf("recurring window did not end: %v", eventTypes(ch))
	}
}

func TestGroupsAndIndicator(t *testing.T) {
	h := newHarness(t, testModel())
	h.times(3, "web-1", deg, slow)
	h.run("db-1", down, refu)
	s := h.e.Snapshot(h.now, t0)
	if len(s.Groups) != 2 || s.Groups[0].Name != "Platform" || s.Groups[0].ID != "platform" || s.Groups[0].Status != DegradedPerformance {
		t.Fatalf("groups %+v", s.Groups)
	}
	if s.Groups[1].Status != MajorOutage || s.Indicator != ImpactCritical || s.Description != "Major Service Outage" {
		t.Fatalf("indicator %s %q", s.Indicator, s.Description)
	}
	if len(s.Incidents) != 1 {
		t.Fatalf("incidents %d", len(s.Incidents))
	}
}

func TestStaleness(t *testing.T) {
	h := newHarness(t, testModel())
	h.run("api-1", up, ok)
	h.run("api-2", up, ok)
	if s := h.e.Snapshot(h.now, t0); s.Components[0].Stale {
		t.Fatal("fresh data marked stale")
	}
	later := h.now.Add(61 * time.Second) // more than 2 periods of 30s
	s := h.e.Snapshot(later, t0)
	if !s.Components[0].Stale || !s.Groups[0].Stale {
		t.Fatal("silent checks not marked stale")
	}
	if !s.Components[2].Stale {
		t.Fatal("a check never heard from is not stale after two periods")
	}
}

// The same inputs give byte-identical state and events: the engine draws
// nothing from the clock, randomness or map order.
func TestDeterminism(t *testing.T) {
	script := func() ([]byte, []byte) {
		h := newHarness(t, testModel())
		for i := range 40 {
			o, r := up, ok
			if i%7 < 4 {
				o, r = down, refu
			}
			h.now = h.now.Add(time.Second)
			h.step(
				CheckResult{Check: "web-1", At: h.now, Result: probes.Result{Outcome: o, Reason: r}},
				CheckResult{Check: "api-1", At: h.now, Result: probes.Result{Outcome: o, Reason: r}},
				CheckResult{Check: "db-1", At: h.now, Result: probes.Result{Outcome: deg, Reason: slow}},
			)
		}
		state, _ := json.Marshal(h.e.State())
		events, _ := json.Marshal(h.log)
		return state, events
	}
	s1, e1 := script()
	s2, e2 := script()
	if string(s1) != string(s2) || string(e1) != string(e2) {
		t.Fatal("two runs of the same inputs differ")
	}
	if !strings.Contains(string(e1), `"incident.created"`) {
		t.Fatal("the script exercised no incident")
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "under a minute", 40 * time.Second: "under a minute",
		time.Minute: "1 minute", 93 * time.Second: "1 minute", 119 * time.Second: "1 minute",
		12 * time.Minute: "12 minutes", 59*time.Minute + 59*time.Second: "59 minutes", time.Hour: "1 hour",
		65 * time.Minute: "1 hour 5 minutes", 2 * time.Hour: "2 hours", 3*time.Hour + 30*time.Second: "3 hours",
		26*time.Hour + 1*time.Minute: "26 hours 1 minute"} {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestMonitorDelayed(t *testing.T) {
	h := newHarness(t, testModel())
	h.run("api-1", up, ok)
	last := h.now
	h.now = h.now.Add(59 * time.Second)
	if ch := h.step(); hasEvent(ch, MonitorDelayed) || !h.e.State().DelayedSince.IsZero() {
		t.Fatal("delayed within two periods")
	}
	h.now = h.now.Add(2 * time.Second)
	ch := h.step()
	if !hasEvent(ch, MonitorDelayed) || !h.e.State().DelayedSince.Equal(last) {
		t.Fatalf("silent for two periods: events %v, delayed since %v", eventTypes(ch), h.e.State().DelayedSince)
	}
	if !MonitorDelayed.OperatorsOnly() {
		t.Error("monitor.delayed must not reach public channels")
	}
	h.now = h.now.Add(time.Minute)
	if ch := h.step(); hasEvent(ch, MonitorDelayed) {
		t.Fatal("monitor.delayed announced twice for one delay")
	}
	if s := h.e.Snapshot(h.now, t0); !s.DelayedSince.Equal(last) {
		t.Fatalf("snapshot delayed since %v", s.DelayedSince)
	}
	h.run("db-1", up, ok)
	if !h.e.State().DelayedSince.IsZero() {
		t.Fatal("a new result did not clear the delay")
	}
}

// A reload that removes a failing component resolves its incident rather
// than leaving it open forever.
func TestReloadRemovingComponent(t *testing.T) {
	h := newHarness(t, testModel())
	h.run("db-1", down, refu)
	if len(h.open()) != 1 {
		t.Fatal("no incident")
	}
	m := testModel()
	m.Components = m.Components[:2]
	m.Checks = m.Checks[:3]
	h.e.SetModel(m)
	if ch := h.step(); !hasEvent(ch, IncidentResolved) || len(h.open()) != 0 {
		t.Fatal("the removed component's incident stayed open")
	}
}

func TestAPIMaintenance(t *testing.T) {
	h := newHarness(t, testModel())
	start, end := t0.Add(10*time.Minute), t0.Add(40*time.Minute)
	ch := h.e.Apply(Batch{Now: h.now, Commands: []Command{{Kind: ScheduleMaintenance, Name: "Database upgrade", Body: "Writes pause.",
		Components: map[string]ComponentStatus{"db": UnderMaintenance}, Start: start, End: end, Author: "oncall"}}})
	id := ch.Replies[0].IncidentID
	if ch.Replies[0].Err != "" || !hasEvent(ch, MaintenanceScheduled) {
		t.Fatalf("schedule: %+v %v", ch.Replies, eventTypes(ch))
	}
	if sc := h.e.Snapshot(h.now, t0).Scheduled; len(sc) != 1 || sc[0].ID != id || !sc[0].Maintenance.ScheduledFor.Equal(start) {
		t.Fatalf("scheduled %+v", sc)
	}
	// Re-timed before it starts: re-announced with the new time.
	start = start.Add(5 * time.Minute)
	ch = h.e.Apply(Batch{Now: h.now, Commands: []Command{{Kind: UpdateMaintenance, IncidentID: id, Start: start, Name: "Database upgrade (v16)"}}})
	if ch.Replies[0].Err != "" || !hasEvent(ch, MaintenanceScheduled) || h.e.State().Incidents[id].Name != "Database upgrade (v16)" {
		t.Fatalf("re-time: %+v %v", ch.Replies, eventTypes(ch))
	}
	h.now = start.Add(-time.Second)
	if ch = h.step(); hasEvent(ch, MaintenanceStarted) {
		t.Fatal("started at the old time")
	}
	h.now = start
	if ch = h.step(); !hasEvent(ch, MaintenanceStarted) || h.comp("db") != UnderMaintenance {
		t.Fatalf("start: %v %s", eventTypes(ch), h.comp("db"))
	}
	if body := h.e.State().Incidents[id].Latest().Body; body != "Writes pause." {
		t.Fatalf("the window started with %q, not its message", body)
	}
	if ch = h.run("db-1", down, refu); len(h.open()) != 0 || hasEvent(ch, IncidentCreated) {
		t.Fatal("a failure during API maintenance opened an incident")
	}
	if r := h.e.Apply(Batch{Now: h.now, Commands: []Command{{Kind: UpdateMaintenance, IncidentID: id, Start: h.now}}}).Replies[0]; r.Err == "" {
		t.Error("moved the start of a window in progress")
	}
	h.run("db-1", up, ok)
	h.now = end
	if ch = h.step(); !hasEvent(ch, MaintenanceCompleted) || h.comp("db") != Operational {
		t.Fatalf("end: %v %s", eventTypes(ch), h.comp("db"))
	}
	if inc := h.e.State().Incidents[id]; inc.Status != MaintCompleted || len(h.e.State().Windows) != 0 {
		t.Fatalf("after the window: %s, %d windows", inc.Status, len(h.e.State().Windows))
	}
	// Cancelling a scheduled window.
	ch = h.e.Apply(Batch{Now: h.now, Commands: []Command{{Kind: ScheduleMaintenance, Name: "Later", Components: map[string]ComponentStatus{"api": ""},
		Start: h.now.Add(time.Hour), End: h.now.Add(2 * time.Hour)}}})
	later := ch.Replies[0].IncidentID
	ch = h.e.Apply(Batch{Now: h.now, Commands: []Command{{Kind: CancelMaintenance, IncidentID: later}}})
	if c := h.e.State().Incidents[later]; ch.Replies[0].Err != "" || !hasEvent(ch, MaintenanceCancelled) || hasEvent(ch, MaintenanceCompleted) ||
		c.Status != MaintCancelled || c.Latest().Status != MaintCancelled || c.Latest().Body != "This maintenance has been cancelled." {
		t.Fatalf("cancel: %+v %v", ch.Replies, eventTypes(ch))
	}
	for _, bad := range []Command{
		{Kind: ScheduleMaintenance, Name: "x", Components: map[string]ComponentStatus{"api": ""}, Start: h.now.Add(time.Hour), End: h.now},
		{Kind: ScheduleMaintenance, Components: map[string]ComponentStatus{"api": ""}, Start: h.now, End: h.now.Add(time.Hour)},
		{Kind: ScheduleMaintenance, Name: "x", Start: h.now, End: h.now.Add(time.Hour)},
		{Kind: CancelMaintenance, IncidentID: "mnt-999"},
	} {
		if r := h.e.Apply(Batch{Now: h.now, Commands: []Command{bad}}).Replies[0]; r.Err == "" {
			t.Errorf("accepted %+v", bad)
		}
	}
}

// A command in the very first step (nothing probed yet) still sets
// component statuses.
func TestCommandInFirstStep(t *testing.T) {
	e := NewEngine(testModel(), nil)
	ch := e.Apply(Batch{Now: t0, Commands: []Command{{Kind: CreateIncident, Name: "Maintenance overrun", Body: "Still working on it.",
		Components: map[string]ComponentStatus{"db": PartialOutage}}}})
	id := ch.Replies[0].IncidentID
	if e.State().Components["db"].Status != PartialOutage || len(e.State().Incidents[id].Components) != 1 {
		t.Fatalf("db %s, incident components %v", e.State().Components["db"].Status, e.State().Incidents[id].Components)
	}
}

func TestEditDeleteAndPostmortem(t *testing.T) {
	h := newHarness(t, testModel())
	h.run("db-1", down, refu)
	inc := h.open()[0]
	id, first := inc.ID, inc.Updates[0].ID
	h.run("db-1", up, ok) // resolved: two updates
	apply := func(c Command) Reply {
		h.now = h.now.Add(time.Second)
		return h.e.Apply(Batch{Now: h.now, Commands: []Command{c}}).Replies[0]
	}
	if r := apply(Command{Kind: AddPostmortem, IncidentID: id, Body: "# What happened\\nA bad deploy."}); r.Err != "" {
		t.Fatal(r.Err)
	}
	got := h.e.State().Incidents[id]
	if got.Status != Postmortem || got.Postmortem == "" || got.Latest().Status != Postmortem {
		t.Fatalf("postmortem: %s %q", got.Status, got.Postmortem)
	}
	if r := apply(Command{Kind: EditUpdate, IncidentID: id, UpdateID: first, Body: "Corrected text."}); r.Err != "" || got.Updates[0].Body != "Corrected text." {
		t.Fatalf("edit: %v %q", r.Err, got.Updates[0].Body)
	}
	if r := apply(Command{Kind: DeleteUpdate, IncidentID: id, UpdateID: first}); r.Err != "" || len(got.Updates) != 2 || got.Updates[0].ID == first {
		t.Fatalf("delete: %v %d", r.Err, len(got.Updates))
	}
	// Long after, the engine has forgotten it; the stored copy comes along.
	stored := got.Clone()
	h.now = h.now.Add(24 * time.Hour)
	h.step()
	if _, kept := h.e.State().Incidents[id]; kept {
		t.Fatal("an old closed incident is still in state")
	}
	if r := apply(Command{Kind: EditUpdate, IncidentID: id, UpdateID: stored.Updates[0].ID, Body: "Later fix."}); r.Err == "" {
		t.Fatal("edited an incident the engine does not have without its stored copy")
	}
	if r := apply(Command{Kind: EditUpdate, IncidentID: id, UpdateID: stored.Updates[0].ID, Body: "Later fix.", Loaded: stored}); r.Err != "" {
		t.Fatalf("edit with the stored copy: %v", r.Err)
	}
	open := h.e.Apply(Batch{Now: h.now, Commands: []Command{{Kind: AddPostmortem, IncidentID: "inc-404", Body: "x"}}}).Replies[0]
	if open.Err == "" {
		t.Error("postmortem for a missing incident accepted")
	}
}

func canaryModel() *Model {
	m := testModel()
	for _, n := range []string{"canary-a", "canary-b"} {
		m.Checks = append(m.Checks, CheckDef{Name: n, Canary: true, FailureThreshold: 3, SuccessThreshold: 2, RecheckInterval: 2 * time.Second, Every: 30 * time.Second})
	}
	return m
}

// all runs every named check once with outcome o, at the same instant.
func (h *harness) all(o probes.Outcome, names ...string) *Changes {
	h.now = h.now.Add(2 * time.Second)
	var rs []CheckResult
	for _, n := range names {
		r := probes.ReasonOK
		if o == down {
			r = probes.ReasonTimeout
		}
		rs = append(rs, CheckResult{Check: n, At: h.now, Result: probes.Result{Outcome: o, Reason: r}})
	}
	return h.step(rs...)
}

var allChecks = []string{"api-1", "api-2", "web-1", "db-1", "canary-a", "canary-b"}

// Cut off: checks and canaries fail together. No incident, operators are
// told, statuses hold, the page says it cannot see.
func TestConnectivityCutOff(t *testing.T) {
	h := newHarness(t, canaryModel())
	h.all(up, allChecks...)
	h.all(up, allChecks...)
	var evs []EventType
	for range 3 {
		evs = append(evs, eventTypes(h.all(down, allChecks...))...)
	}
	if len(h.open()) != 0 || slices.Contains(evs, IncidentCreated) {
		t.Fatalf("an incident was opened while cut off: %v", evs)
	}
	if !slices.Contains(evs, MonitorConnectivityLost) || !MonitorConnectivityLost.OperatorsOnly() {
		t.Fatalf("operators not told: %v", evs)
	}
	if h.comp("api") != Operational {
		t.Errorf("api shows %s while we cannot see", h.comp("api"))
	}
	s := h.e.Snapshot(h.now, t0)
	if s.ConnectivitySince.IsZero() || !s.Components[0].Stale {
		t.Fatal("the snapshot does not say monitoring is degraded")
	}
	// Connectivity returns; the targets are fine.
	h.all(up, allChecks...)
	ch := h.all(up, allChecks...)
	if !hasEvent(ch, MonitorConnectivityFixed) || len(h.open()) != 0 || h.comp("api") != Operational {
		t.Fatalf("restore: %v, %d open, api %s", eventTypes(ch), len(h.open()), h.comp("api"))
	}
}

// A real outage: the canaries answer fine, so the failure is the target's.
func TestConnectivityRealOutage(t *testing.T) {
	h := newHarness(t, canaryModel())
	h.all(up, allChecks...)
	ch := h.all(down, "db-1") // db-1 confirms on its first failure
	if len(h.open()) != 0 {
		t.Fatal("announced before the canaries answered")
	}
	if rc := ch.Rechecks; len(rc) < 2 || !slices.ContainsFunc(rc, func(r Recheck) bool { return r.Check == "canary-a" && r.At.Equal(h.now) }) {
		t.Fatalf("canaries not re-checked at once: %+v", rc)
	}
	ch = h.all(up, "canary-a", "canary-b")
	if !hasEvent(ch, IncidentCreated) {
		t.Fatalf("canaries fine, yet no incident: %v", eventTypes(ch))
	}
}

// If the canaries never answer, the wait is bounded.
func TestCanaryWaitBounded(t *testing.T) {
	h := newHarness(t, canaryModel())
	h.all(up, allChecks...)
	for range 3 {
		h.all(down, "db-1")
	}
	h.now = h.now.Add(61 * time.Second) // past twice the canaries' period
	if ch := h.step(CheckResult{Check: "db-1", At: h.now, Result: probes.Result{Outcome: down, Reason: refu}}); !hasEvent(ch, IncidentCreated) {
		t.Fatal("silent canaries held the incident forever")
	}
}
