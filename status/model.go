package status

import (
	"time"

	"github.com/outpost-status/outpost/probes"
)

// Model is the static shape the engine works on, built from the config.
// It is immutable; a reload builds a new one.
type Model struct {
	SiteTitle     string
	Location      *time.Location // for public times in generated text
	Components    []ComponentDef // in page order
	Checks        []CheckDef
	AutoIncidents bool
	ReopenWindow  time.Duration
	Maintenance   []MaintenanceDef
	// StaleAfter is how many of a check's periods without a result make its
	// data stale ("no recent data"). Default 2.
	StaleAfter int
	// ConnectivityThreshold is the share of checks down that, with the
	// canaries failing, means Outpost is cut off. Default 0.5.
	ConnectivityThreshold float64
	// Locations are the cluster's locations (cluster.nodes[].location),
	// sorted; with fewer than two there is no vote (vote.go).
	Locations []string
	Voting    Voting

	// idx finds checks and components without a scan; built by the
	// engine when it adopts the model (NewEngine, SetModel).
	idx *modelIndex
}

// modelIndex is a Model's lookups: at 5,000 components a scan of every
// check per component per step took half the CPU of the whole binary.
type modelIndex struct {
	check     map[string]int // check name → position in Checks
	component map[string]int // component id → position in Components
	// checksOf: component id → its status checks (not warnings), in
	// model order, pointing into Checks: copies were a second CheckDef of
	// 128 bytes a check (0.6 MB at 5,000 checks).
	checksOf map[string][]*CheckDef
	shortest time.Duration // the shortest check period
	canaries []*CheckDef   // in model order, into Checks
}

// index builds the lookups; the model must not change afterwards.
func (m *Model) index() {
	x := &modelIndex{check: make(map[string]int, len(m.Checks)), component: make(map[string]int, len(m.Components)),
		checksOf: make(map[string][]*CheckDef, len(m.Components))}
	// Each component's list made at its length: grown by appends, lists
	// of a hundred checks kept a quarter more room than they use.
	counts := make(map[string]int, len(m.Components))
	for _, c := range m.Checks {
		if !c.Warning {
			counts[c.Component]++
		}
	}
	for id, n := range counts {
		x.checksOf[id] = make([]*CheckDef, 0, n)
	}
	for i := range m.Checks {
		c := &m.Checks[i]
		if i == 0 || c.Every < x.shortest {
			x.shortest = c.Every
		}
		x.check[c.Name] = i
		if c.Canary {
			x.canaries = append(x.canaries, c)
		}
		if !c.Warning { // a component is what its status checks say
			x.checksOf[c.Component] = append(x.checksOf[c.Component], c)
		}
	}
	for i, c := range m.Components {
		x.component[c.ID] = i
	}
	m.idx = x
}

// ComponentDef is one public component.
type ComponentDef struct {
	ID, Name, Group, Description string
	// DependsOn are components this one needs (depends_on).
	DependsOn []string
}

// CheckDef is one private check's engine settings.
type CheckDef struct {
	Name             string
	Component        string
	FailureThreshold int
	SuccessThreshold int
	RecheckInterval  time.Duration
	Every            time.Duration // nominal period, for freshness
	// Canary checks belong to no component: they tell whether Outpost
	// itself can see the world.
	Canary bool
	// Warning checks tell operators (check.warning events) and never move
	// their component's status, freshness or uptime (affects: warning).
	Warning bool
	// Push checks (heartbeats) have no location: a beat reaches one node.
	// (The three flags side by side: a CheckDef is 128 bytes, not 144, and
	// a model holds two of each check, in Checks and in its index.)
	Push bool
	// Locations are where the check runs in a cluster (empty: every
	// location); Vote overrides the model's rule for it.
	Locations []string
	Vote      VoteRule
	// Host is the target's host (private, like the name): a location
	// whose failures span several hosts that the others see up is judged
	// at fault (vote.go).
	Host string
}

// Schedule yields the next firing after a time (robfig/cron's Schedule
// satisfies it), so the engine need not parse cron specs.
type Schedule interface {
	Next(time.Time) time.Time
}

// MaintenanceDef is a configured window: one-off (Start, End) or recurring
// (Schedule, Duration).
type MaintenanceDef struct {
	ID, Name, Message string
	Components        []string
	Start, End        time.Time
	Schedule          Schedule
	Duration          time.Duration
}

// occurrence returns the window's occurrence active at now, if any.
func (m MaintenanceDef) occurrence(now time.Time) (start, end time.Time, ok bool) {
	if m.Schedule == nil {
		return m.Start, m.End, !now.Before(m.Start) && now.Before(m.End)
	}
	// The first firing after now-Duration is the only one that can cover now.
	s := m.Schedule.Next(now.Add(-m.Duration))
	return s, s.Add(m.Duration), !s.After(now)
}

// Next returns the next occurrence starting after now (for "upcoming").
func (m MaintenanceDef) Next(now time.Time) (start, end time.Time, ok bool) {
	if m.Schedule == nil {
		return m.Start, m.End, m.Start.After(now)
	}
	s := m.Schedule.Next(now)
	return s, s.Add(m.Duration), !s.IsZero()
}

func (m *Model) check(name string) (CheckDef, bool) {
	if m.idx != nil {
		if i, ok := m.idx.check[name]; ok {
			return m.Checks[i], true
		}
		return CheckDef{}, false
	}
	for _, c := range m.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return CheckDef{}, false
}

func (m *Model) component(id string) (ComponentDef, bool) {
	if m.idx != nil {
		if i, ok := m.idx.component[id]; ok {
			return m.Components[i], true
		}
		return ComponentDef{}, false
	}
	for _, c := range m.Components {
		if c.ID == id {
			return c, true
		}
	}
	return ComponentDef{}, false
}

// checksOf lists the checks feeding a component, in model order. With
// the index it allocates nothing (it runs per component, several times a
// step); callers only read the slice.
func (m *Model) checksOf(id string) []*CheckDef {
	if m.idx != nil {
		return m.idx.checksOf[id]
	}
	var out []*CheckDef
	for i := range m.Checks {
		if m.Checks[i].Component == id {
			out = append(out, &m.Checks[i])
		}
	}
	return out
}

// CheckResult is one probe result for the engine.
type CheckResult struct {
	Check  string
	At     time.Time // when the run finished
	Result probes.Result
	// Location is where it ran (a cluster node's location; empty on a
	// single node).
	Location string
}
