package status

import (
	"time"

	"github.com/outpost-status/outpost/probes"
)

// Where an automatic incident's component fails, for its texts (issue 31):
// in a cluster, from the locations' last runs of its failing checks at
// that step; on a single node nothing is added, so its texts stay as they
// were.

// whereText is " Database is unreachable from eu-west and us-east, fine
// from ap-southeast." for def's failing checks, or "" when the component
// has no locations to speak of (a single node, a push check).
func (e *Engine) whereText(def ComponentDef, now time.Time) string {
	unreachable, degraded, fine := e.whereFailing(def.ID, now)
	if len(unreachable)+len(degraded) == 0 {
		return ""
	}
	return " " + def.Name + " is " + Where(unreachable, degraded, fine) + "."
}

// whereFailing sorts the locations that can see the component's failing
// (down) checks by their worst last run of them: down, degraded, up. A
// location out of the vote (silent, or cut off by its canaries) says
// nothing about the target and is left out.
func (e *Engine) whereFailing(id string, now time.Time) (unreachable, degraded, fine []string) {
	worst := map[string]probes.Outcome{}
	for _, def := range e.m.checksOf(id) {
		cs := e.s.Checks[def.Name]
		if cs == nil || cs.Status != CheckDown {
			continue
		}
		for _, loc := range e.voters(*def) {
			if cs.Regions[loc] == nil || !e.seeing(*def, cs, loc, now) {
				continue
			}
			worst[loc] = max(worst[loc], cs.Regions[loc].LastOutcome) // absent reads as Up
		}
	}
	for _, loc := range e.m.Locations { // the cluster's order, not the checks'
		o, ok := worst[loc]
		switch {
		case !ok:
		case o == probes.Down:
			unreachable = append(unreachable, loc)
		case o == probes.Up:
			fine = append(fine, loc)
		default:
			degraded = append(degraded, loc)
		}
	}
	return unreachable, degraded, fine
}

// downReason is the reason of a down check's failure: on a single node its
// last run's; in a cluster the last run's where it failed (the check's
// last run overall may be a location that still reaches it).
func (e *Engine) downReason(def CheckDef, cs *CheckState) probes.Reason {
	for _, loc := range e.voters(def) {
		if rg := cs.Regions[loc]; rg != nil && rg.LastOutcome == probes.Down {
			return rg.LastReason
		}
	}
	return cs.LastReason
}
