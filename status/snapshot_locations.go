package status

import (
	"slices"
	"time"

	"github.com/outpost-status/outpost/probes"
)

// LocationView is a component as seen from one location of a cluster:
// what that location's own runs say, whatever the vote decided.
type LocationView struct {
	Location string
	// Status is the component's status from the checks' regional states
	// there (each location's own thresholds), counted as for the
	// component itself.
	Status ComponentStatus
	// NoData: none of its checks has a status at that location yet.
	NoData bool
	// Latency is the slowest of the component's status checks' last runs
	// there that reached the target (not down): a timeout's duration says
	// nothing about speed. HasLatency is false when none did.
	Latency    time.Duration
	HasLatency bool
	// LastChecked is the newest result there; Stale: a check has been
	// silent there for StaleAfter of its periods, or the location's
	// canaries say it is cut off (it cannot see the target).
	LastChecked time.Time
	Stale       bool
}

// locationsCutOff says, once per snapshot, which locations are cut off
// (locationCutOff); nil on a single node.
func (e *Engine) locationsCutOff() map[string]bool {
	if len(e.m.Locations) < 2 {
		return nil
	}
	cut := make(map[string]bool, len(e.m.Locations))
	for _, loc := range e.m.Locations {
		cut[loc] = e.locationCutOff(loc)
	}
	return cut
}

// locate fills c's per-location view in a cluster (two locations or
// more); a single node's components keep neither field. checks and
// states are the component's checks and their states (statesOf); cut is
// locationsCutOff's. One pass over the component's checks for every
// location: a snapshot of thousands of checks is built after every entry
// a member applies, whoever wrote it.
func (e *Engine) locate(c *ComponentView, checks []*CheckDef, states []*CheckState, cut map[string]bool, now time.Time) {
	if len(e.m.Locations) < 2 {
		return
	}
	// On the stack for up to eight locations: one snapshot is thousands of
	// components.
	var tallies [8]locationTally
	var regionals [8]bool
	n := len(e.m.Locations)
	tally, regional := tallies[:min(n, 8)], regionals[:min(n, 8)]
	if n > 8 {
		tally, regional = make([]locationTally, n), make([]bool, n)
	}
	for k, def := range checks {
		voters := e.voters(*def)
		if voters == nil {
			continue // no location counts it (a canary, a push check)
		}
		cs := states[k]
		// silent's bound, once per check rather than per location:
		// time.Sub per location was a fifth of a member's snapshot.
		quiet := e.quietBefore(*def, now)
		everywhere := len(def.Locations) == 0 // voters are the cluster's locations
		for i, loc := range e.m.Locations {
			if cs != nil && cs.Status == CheckUp && len(cs.Regional) > 0 && slices.Contains(cs.Regional, loc) {
				regional[i] = true
			}
			if !everywhere && !slices.Contains(voters, loc) {
				continue
			}
			var rg *CheckState
			if cs != nil {
				rg = cs.Regions[loc]
			}
			tally[i].add(rg, silentSince(rg, quiet))
		}
	}
	for i, loc := range e.m.Locations {
		if tally[i].runs > 0 {
			if c.Locations == nil {
				c.Locations = make([]LocationView, 0, len(e.m.Locations)-i)
			}
			c.Locations = append(c.Locations, tally[i].view(loc, cut[loc]))
		}
	}
	if e.m.Voting.Regional == RegionalIgnore {
		return // nothing public happens (docs/config.md voting.regional)
	}
	for i, loc := range e.m.Locations { // in the cluster's order, each once
		if regional[i] {
			c.Regional = append(c.Regional, loc)
		}
	}
}

// locationTally adds up a component's status checks that run at one
// location; none (runs 0) when a check is limited by locations: or is a
// push check, which has no location.
type locationTally struct {
	lv                          LocationView
	runs, known, down, degraded int
}

// add counts one check's state there (nil: none yet); silent: it has not
// been heard from there for StaleAfter of its periods.
func (t *locationTally) add(rg *CheckState, silent bool) {
	t.runs++
	t.lv.Stale = t.lv.Stale || silent
	if rg == nil {
		return
	}
	t.lv.LastChecked = later(t.lv.LastChecked, rg.LastAt)
	if rg.LastOutcome != probes.Down && rg.LastLatency >= t.lv.Latency {
		t.lv.Latency, t.lv.HasLatency = rg.LastLatency, true
	}
	switch rg.Status {
	case CheckUnknown, "":
		return
	case CheckDown:
		t.down++
	case CheckDegraded:
		t.degraded++
	}
	t.known++
}

// view is the component at loc; cutOff: the location is cut off.
func (t *locationTally) view(loc string, cutOff bool) LocationView {
	lv := t.lv
	lv.Location, lv.Status = loc, Operational
	switch {
	case t.known == 0:
		lv.NoData = true
	case t.down == t.known:
		lv.Status = MajorOutage
	case t.down > 0:
		lv.Status = PartialOutage
	case t.degraded > 0:
		lv.Status = DegradedPerformance
	}
	lv.Stale = lv.Stale || cutOff // its runs say nothing about the target
	return lv
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
