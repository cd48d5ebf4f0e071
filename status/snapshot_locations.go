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
// more); a single node's components keep neither field. cut is
// locationsCutOff's.
func (e *Engine) locate(c *ComponentView, cut map[string]bool, now time.Time) {
	if len(e.m.Locations) < 2 {
		return
	}
	checks := e.m.checksOf(c.ID)
	for _, loc := range e.m.Locations {
		if lv, ok := e.atLocation(checks, loc, cut[loc], now); ok {
			c.Locations = append(c.Locations, lv)
		}
	}
	if e.m.Voting.Regional == RegionalIgnore {
		return // nothing public happens (docs/config.md voting.regional)
	}
	for _, loc := range e.m.Locations { // in the cluster's order, each once
		for _, def := range checks {
			if cs := e.s.Checks[def.Name]; cs != nil && cs.Status == CheckUp && slices.Contains(cs.Regional, loc) && e.voters(def) != nil {
				c.Regional = append(c.Regional, loc)
				break
			}
		}
	}
}

// atLocation is the component at loc from its status checks that run
// there; ok is false when none does (a check limited by locations:, a
// push check, which has no location). cutOff: the location is cut off.
func (e *Engine) atLocation(checks []CheckDef, loc string, cutOff bool, now time.Time) (LocationView, bool) {
	lv := LocationView{Location: loc, Status: Operational}
	var runs, known, down, degraded int
	for _, def := range checks {
		if !slices.Contains(e.voters(def), loc) {
			continue
		}
		runs++
		var rg *CheckState
		if cs := e.s.Checks[def.Name]; cs != nil {
			rg = cs.Regions[loc]
		}
		if e.silent(def, rg, now) {
			lv.Stale = true
		}
		if rg == nil {
			continue
		}
		lv.LastChecked = later(lv.LastChecked, rg.LastAt)
		if rg.LastOutcome != probes.Down && rg.LastLatency >= lv.Latency {
			lv.Latency, lv.HasLatency = rg.LastLatency, true
		}
		switch rg.Status {
		case CheckUnknown, "":
			continue
		case CheckDown:
			down++
		case CheckDegraded:
			degraded++
		}
		known++
	}
	switch {
	case known == 0:
		lv.NoData = true
	case down == known:
		lv.Status = MajorOutage
	case down > 0:
		lv.Status = PartialOutage
	case degraded > 0:
		lv.Status = DegradedPerformance
	}
	lv.Stale = lv.Stale || cutOff // its runs say nothing about the target
	return lv, runs > 0
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
