package status

import (
	"sort"
	"strings"
	"time"
)

// Snapshot is the immutable public view published after each step. The web
// layer renders it once; nothing in it is shared with the engine.
type Snapshot struct {
	GeneratedAt time.Time
	Indicator   Impact
	Description string
	Components  []ComponentView       // page order
	Groups      []GroupView           // page order; ungrouped components form a group with an empty name
	Incidents   []*Incident           // open incidents, newest first
	Maintenance []*Incident           // active maintenance
	Scheduled   []*Incident           // maintenance scheduled by people, not started yet
	Upcoming    []UpcomingMaintenance // next occurrences of configured windows
	// LastResultAt is the newest result of any check: the page's "last
	// checked" time.
	LastResultAt time.Time
	// DelayedSince is set when no check has produced a result for too long.
	DelayedSince time.Time
	// ConnectivitySince is set while Outpost itself is cut off (canaries).
	ConnectivitySince time.Time
	// IsolatedSince is set while this member of a cluster is cut off from
	// the others: it shows the last state they agreed on (Isolate).
	IsolatedSince time.Time
	// NoData: no component has data yet (every one is NoData).
	NoData bool
	// Filled from the store by the runtime:
	History []*Incident           // closed incidents of the last 14 days, newest first
	Recent  []*Incident           // the latest 50 incidents and maintenance, any status, newest first
	Uptime  map[string]UptimeView // by component id
}

// ComponentView is one component as the public sees it.
type ComponentView struct {
	ID, Name, Description string
	Group, GroupID        string
	Position              int
	Status                ComponentStatus
	Since                 time.Time
	LastChecked           time.Time
	// Stale: a check of this component produced no result for StaleAfter
	// of its periods. The page says "no recent data" instead of a status.
	Stale bool
	// NoData: none of the component's checks has a confirmed status yet.
	// It shows no status (not a green one), and is left out of the
	// Statuspage v2 API, whose enums have no "unknown".
	NoData    bool
	CreatedAt time.Time
	// AffectedBy names a dependency in an outage while this component is
	// in one too: its outage is shown as caused by that (the status stays
	// the measured one).
	AffectedBy string
	// In a cluster only (nil on a single node): the component as seen from
	// each location its status checks run from, in the cluster's order,
	// and the locations from which one of them fails while the vote says
	// it is up (regional trouble; nil with voting.regional: ignore).
	// Location names are public (cluster.nodes[].location).
	Locations []LocationView
	Regional  []string
}

// GroupView is a named group of components; its status is the worst of
// its members. Components may be a run of the snapshot's Components (the
// same views, not copies: groupLayout), so neither list is changed once
// the snapshot is published; a copy to change is cloned first.
type GroupView struct {
	ID, Name   string
	Status     ComponentStatus
	Stale      bool
	NoData     bool // every member is NoData
	Components []ComponentView
}

// UpcomingMaintenance is the next occurrence of a configured window.
type UpcomingMaintenance struct {
	ID, WindowID, Name, Message string
	Components                  []string
	Start, End                  time.Time
	// Published is when it was first shown as upcoming (its created_at).
	Published time.Time
}

// Incident is the occurrence as the scheduled maintenance it will be: the
// same id, name and creation time as once it starts.
func (u UpcomingMaintenance) Incident() *Incident {
	inc := &Incident{ID: u.ID, Name: u.Name, Status: MaintScheduled, Impact: ImpactMaintenance,
		Components: u.Components, CreatedAt: u.Published, UpdatedAt: u.Published, StartedAt: u.Start,
		Maintenance: &MaintenanceInfo{WindowID: u.WindowID, ScheduledFor: u.Start, ScheduledUntil: u.End}}
	if u.Message != "" {
		inc.Updates = []Update{{ID: u.ID + "-u", Status: MaintScheduled, Body: u.Message,
			CreatedAt: u.Published, UpdatedAt: u.Published, DisplayAt: u.Published}}
	}
	return inc
}

// UptimeView is a component's history for the page: one cell per day.
//
// Days and Latency are never changed once published in a snapshot (the
// history builds new ones on each refresh): readers may keep them.
type UptimeView struct {
	Days    []DayView // oldest first
	Percent float64   // over the whole window
	// Latency is recent response times for the sparkline (ms), oldest first.
	Latency []float64
	// Windows holds uptime over "24h", "7d", "30d" and "90d" (-1: no data).
	Windows map[string]float64
}

// DayView is one day's uptime cell.
type DayView struct {
	Date      time.Time
	Status    ComponentStatus // worst status that day
	Percent   float64         // -1 when there is no data
	Incidents int
}

// groupLayout numbers the groups in page order (by first member) and hands
// out each group's member slice, empty with room for exactly its members,
// all carved from one array: a snapshot is built at every publish, and
// groups grown by appends allocated about twice what they keep.
//
// When every group's components are listed together (the usual shape),
// the members are runs of the page-order list itself, which is returned
// as shared (empty, with room for every component): a group's views are
// then the very ComponentViews of Components (1.2 MB a snapshot at 5,000
// components, not copied), written once by appending to both. A snapshot
// is never changed once published, and what changes a view while it is
// built (blame, markStale) changes it in both lists alike.
func (e *Engine) groupLayout() (groups map[string]int, members [][]ComponentView, shared []ComponentView) {
	groups = map[string]int{}
	var sizes []int
	together := true
	for i, def := range e.m.Components {
		gi, ok := groups[def.Group]
		if !ok {
			gi = len(sizes)
			groups[def.Group] = gi
			sizes = append(sizes, 0)
		} else if def.Group != e.m.Components[i-1].Group {
			together = false
		}
		sizes[gi]++
	}
	all := make([]ComponentView, len(e.m.Components))
	if together {
		shared = all[:0]
	}
	members = make([][]ComponentView, len(sizes))
	for gi, n := range sizes {
		members[gi], all = all[:0:n], all[n:]
	}
	return groups, members, shared
}

// Snapshot builds the public view of the current state at now.
func (e *Engine) Snapshot(now time.Time, started time.Time) *Snapshot {
	now = now.UTC()
	s := &Snapshot{GeneratedAt: now, DelayedSince: e.s.DelayedSince, ConnectivitySince: e.s.ConnectivitySince}
	worst, known, unknown := Operational, 0, 0
	groups, members, shared := e.groupLayout()
	s.Components = shared
	if shared == nil {
		s.Components = make([]ComponentView, 0, len(e.m.Components))
	}
	s.Groups = make([]GroupView, 0, len(groups))
	cut := e.locationsCutOff()
	// A component's checks' states, reused: room for most components' at
	// once, so it rarely grows.
	states := make([]*CheckState, 0, min(len(e.m.Checks), 256))
	for i, def := range e.m.Components {
		var cv ComponentView
		cv, states = e.componentView(i, def, cut, states, now, started)
		if cv.LastChecked.After(s.LastResultAt) {
			s.LastResultAt = cv.LastChecked
		}
		if cv.NoData {
			unknown++
		} else {
			worst, known = Worst(worst, cv.Status), known+1
		}
		s.Components = append(s.Components, cv)
		gi := groups[def.Group]
		if gi == len(s.Groups) {
			s.Groups = append(s.Groups, GroupView{ID: GroupID(def.Group), Name: def.Group, Status: Operational, NoData: true, Components: members[gi]})
		}
		g := &s.Groups[gi]
		g.Components = append(g.Components, cv)
		if !cv.NoData {
			g.Status, g.NoData = Worst(g.Status, cv.Status), false
		}
		g.Stale = g.Stale || cv.Stale
	}
	e.blame(s)
	s.NoData = known == 0 && len(s.Components) > 0
	s.Indicator = ImpactOf(worst)
	for _, inc := range e.sortedIncidents() {
		if !inc.Open() {
			continue
		}
		if inc.Status == MaintScheduled {
			s.Scheduled = append(s.Scheduled, inc.Clone())
			continue
		}
		if inc.Maintenance != nil {
			s.Maintenance = append(s.Maintenance, inc.Clone())
			continue
		}
		s.Incidents = append(s.Incidents, inc.Clone())
		if inc.Impact.rank() > s.Indicator.rank() {
			s.Indicator = inc.Impact
		}
	}
	sort.SliceStable(s.Incidents, func(i, j int) bool { return s.Incidents[i].Seq > s.Incidents[j].Seq })
	if s.Indicator == ImpactMaintenance && worst != UnderMaintenance {
		s.Indicator = ImpactOf(worst)
	}
	s.Description = s.Indicator.Description()
	// "All Systems Operational" is a claim about every component: while
	// any has no data yet and nothing worse is known, the page says so.
	if unknown > 0 && s.Indicator == ImpactNone {
		s.Description = NoDataDescription
	}
	s.Upcoming = e.upcoming(now)
	return s
}

// componentView is the i-th component's view at now, but for its group's
// part; states is room for its checks' states (statesOf), handed back
// for the next component. cut is locationsCutOff's.
func (e *Engine) componentView(i int, def ComponentDef, cut map[string]bool, states []*CheckState, now, started time.Time) (ComponentView, []*CheckState) {
	st := e.s.Components[def.ID]
	cv := ComponentView{ID: def.ID, Name: def.Name, Description: def.Description, Group: def.Group,
		GroupID: GroupID(def.Group), Position: i + 1, Status: Operational, Since: started, CreatedAt: started}
	if st != nil {
		cv.Status, cv.Since = st.Status, st.Since
		if !st.CreatedAt.IsZero() {
			cv.CreatedAt = st.CreatedAt
		}
	}
	// Each check's state is looked up once for the component's freshness
	// and its locations: a member's snapshot did it per location, about
	// six times a single node's cost (BenchmarkSnapshotLocations).
	checks := e.m.checksOf(def.ID)
	states = e.statesOf(checks, states[:0])
	cv.LastChecked, cv.Stale = e.freshness(checks, states, now, started)
	cv.Stale = cv.Stale || !e.s.ConnectivitySince.IsZero() // we cannot see: say so
	cv.NoData = cv.Status == Operational && e.noData(def.ID)
	e.locate(&cv, checks, states, cut, now)
	return cv, states
}

// Isolate shows the snapshot as that of a cluster member cut off from the
// others since the given time: what it shows is the last state they
// agreed on, and every component reads as possibly out of date.
func (s *Snapshot) Isolate(since time.Time) {
	s.IsolatedSince = since.UTC()
	s.markStale()
}

// Delay shows the snapshot as monitoring delayed since the given time (or
// since an earlier delay it shows already): the same notice, and the same
// "no recent data" for every component and group, as when probes stop.
// The runtime uses it while no step can commit: what it shows is the last
// committed state, which may be out of date, so it must not read as fresh.
func (s *Snapshot) Delay(since time.Time) {
	if s.DelayedSince.IsZero() || since.Before(s.DelayedSince) {
		s.DelayedSince = since.UTC()
	}
	s.markStale()
}

// markStale marks every component and group as possibly out of date.
func (s *Snapshot) markStale() {
	for i := range s.Components {
		s.Components[i].Stale = true
	}
	for g := range s.Groups {
		s.Groups[g].Stale = true
		for i := range s.Groups[g].Components {
			s.Groups[g].Components[i].Stale = true
		}
	}
}

// blame sets AffectedBy on components in an outage whose dependency is in
// one too (the first, in the order depends_on lists them).
func (e *Engine) blame(s *Snapshot) {
	byID := make(map[string]int, len(s.Components))
	for i, c := range s.Components {
		byID[c.ID] = i
	}
	set := func(list []ComponentView) {
		for i := range list {
			c := &list[i]
			if !c.Status.IsOutage() {
				continue
			}
			def := e.m.Components[e.m.idx.component[c.ID]]
			for _, d := range def.DependsOn {
				if j, ok := byID[d]; ok && s.Components[j].Status.IsOutage() {
					c.AffectedBy = s.Components[j].Name
					break
				}
			}
		}
	}
	set(s.Components)
	for g := range s.Groups {
		set(s.Groups[g].Components)
	}
}

// upcoming are the next occurrences of configured windows within
// UpcomingHorizon, soonest first.
func (e *Engine) upcoming(now time.Time) []UpcomingMaintenance {
	var out []UpcomingMaintenance
	for _, def := range e.m.Maintenance {
		if start, end, ok := def.Next(now); ok && start.Sub(now) < UpcomingHorizon {
			seen, ok := e.s.Seen[def.ID]
			if !ok {
				seen = now
			}
			out = append(out, UpcomingMaintenance{ID: OccurrenceID(def.ID, start), WindowID: def.ID, Name: def.Name,
				Message: def.Message, Components: e.inPageOrder(def.Components), Start: start, End: end, Published: Published(seen, start)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// NoDataDescription is the page's description while no component has data.
const NoDataDescription = "No data yet"

// noData reports a component that has checks, none of which has reached a
// confirmed status: it has not earned a green.
func (e *Engine) noData(id string) bool {
	checks := e.m.checksOf(id)
	for _, c := range checks {
		if cs := e.s.Checks[c.Name]; cs != nil && cs.Status != CheckUnknown {
			return false
		}
	}
	return len(checks) > 0
}

// statesOf appends the states of checks (nil: none yet) to into.
func (e *Engine) statesOf(checks []*CheckDef, into []*CheckState) []*CheckState {
	for _, c := range checks {
		into = append(into, e.s.Checks[c.Name])
	}
	return into
}

// freshness returns the newest result time of a component's checks and
// whether any of them is stale: silent for StaleAfter of its periods (or
// never heard from that long after start). states are the checks' own
// (statesOf).
func (e *Engine) freshness(checks []*CheckDef, states []*CheckState, now, started time.Time) (last time.Time, stale bool) {
	for i, c := range checks {
		seen := started
		if cs := states[i]; cs != nil {
			seen = cs.LastAt
			if cs.LastAt.After(last) {
				last = cs.LastAt
			}
		}
		if c.Every > 0 && now.Sub(seen) > time.Duration(e.m.StaleAfter)*c.Every {
			stale = true
		}
	}
	return last, stale
}

// GroupID is the slug of a group's name.
func GroupID(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	return b.String()
}

// LastChange is the newest state change in the snapshot: a component's
// status or an incident's update (zero when there is none).
func (s *Snapshot) LastChange() time.Time {
	var t time.Time
	for _, c := range s.Components {
		if c.Since.After(t) {
			t = c.Since
		}
	}
	for _, list := range [][]*Incident{s.Incidents, s.Recent} {
		for _, inc := range list {
			if inc.UpdatedAt.After(t) {
				t = inc.UpdatedAt
			}
		}
	}
	return t
}
