package status

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// A location at fault. A location whose canaries are fine may still be
// the one that cannot see (its own routes, its own resolver): it is
// judged by what it alone reports (see the vote in vote.go).

// judgeLocations finds the locations out of the vote: cut off by their
// canaries (at least half down there), or at fault without them: at least
// 3 of its checks, against at least 2 hosts, fail from it by its own
// thresholds while every other location that ran them sees them up (its
// own network, as in June 2025). Such a location drops out of the vote,
// instead of dragging every verdict toward "degraded", until it sees
// again; operators are told both ways (monitor.location_fault and
// monitor.location_restored).
func (e *Engine) judgeLocations(now time.Time) {
	if len(e.m.Locations) < 2 || (!e.regionMoved && !e.rescan) {
		return
	}
	e.regionMoved = false
	changed := false
	defer func() {
		if changed { // the regional lists drop (or take back) the location
			e.reregional(now)
		}
	}()
	for loc := range e.s.Faulty { // a location the model no longer has
		if !slices.Contains(e.m.Locations, loc) {
			delete(e.s.Faulty, loc)
			changed = true
		}
	}
	for _, loc := range e.m.Locations {
		cut, failing, total := e.canariesCutOff(loc)
		checks, hosts := e.failingAlone(loc)
		faulty := cut || (checks >= 3 && hosts >= 2)
		since, was := e.s.Faulty[loc]
		switch {
		case faulty && !was:
			if e.s.Faulty == nil {
				e.s.Faulty = map[string]time.Time{}
			}
			e.s.Faulty[loc] = now
			e.rescan, changed = true, true
			why := fmt.Sprintf("is cut off: %d of its %d canaries are down there", failing, total)
			if !cut {
				why = fmt.Sprintf("is judged at fault: %d of its checks, against %d hosts, fail from it alone while the other locations see them up", checks, hosts)
			}
			e.emit(Event{Type: MonitorLocationFault, At: now, Private: e.privateCanariesAt(loc),
				Text: fmt.Sprintf("Location %s %s; it is out of the vote, and its failures are not announced, until it sees again.", loc, why)})
		case !faulty && was:
			delete(e.s.Faulty, loc)
			e.rescan, changed = true, true
			e.emit(Event{Type: MonitorLocationRestored, At: now,
				Text: fmt.Sprintf("Location %s is back in the vote after %s.", loc, HumanDuration(now.Sub(since)))})
		}
	}
}

// failingAlone counts the checks down from loc (by its own thresholds)
// that every other location that ran them sees up, and their hosts.
func (e *Engine) failingAlone(loc string) (checks, hosts int) {
	seen := map[string]bool{}
	for _, c := range e.m.Checks {
		voters := e.voters(c)
		cs := e.s.Checks[c.Name]
		if cs == nil || !slices.Contains(voters, loc) {
			continue
		}
		if rg := cs.Regions[loc]; rg == nil || rg.Status != CheckDown {
			continue
		}
		others, alone := 0, true
		for _, o := range voters {
			if og := cs.Regions[o]; o != loc && og != nil {
				others++
				alone = alone && og.Status == CheckUp
			}
		}
		if alone && others > 0 {
			checks++
			if c.Host != "" && !seen[c.Host] {
				seen[c.Host] = true
				hosts++
			}
		}
	}
	return checks, hosts
}

// reregional recomputes the regional lists of every voted check, in
// model order: a location went in or out of the vote.
func (e *Engine) reregional(now time.Time) {
	for _, c := range e.m.Checks {
		if cs := e.s.Checks[c.Name]; cs != nil {
			if voters := e.voters(c); voters != nil {
				e.regional(c, cs, voters, now)
			}
		}
	}
}

// privateCanariesAt is loc's canaries' last results, for operators.
func (e *Engine) privateCanariesAt(loc string) *Private {
	p := &Private{}
	for _, c := range e.canaries() {
		if cs := e.s.Checks[c.Name]; cs != nil {
			if rg := cs.Regions[loc]; rg != nil {
				p.Checks = append(p.Checks, CheckDetail{Name: c.Name, Location: loc, Status: rg.Status, Outcome: rg.LastOutcome,
					Reason: rg.LastReason, Message: rg.LastMessage, At: rg.LastAt})
			}
		}
	}
	if len(p.Checks) == 0 {
		return nil
	}
	return p
}

// LocationsOut is a copy of the locations out of the vote, since when.
func (e *Engine) LocationsOut() map[string]time.Time { return maps.Clone(e.s.Faulty) }

// FreshLocations are the locations with a result of some check within
// StaleAfter of its period before now: members there are alive and
// probing.
func (e *Engine) FreshLocations(now time.Time) map[string]bool {
	out := map[string]bool{}
	for _, c := range e.m.Checks {
		cs := e.s.Checks[c.Name]
		if cs == nil {
			continue
		}
		for loc, rg := range cs.Regions {
			if !e.silent(c, rg, now) {
				out[loc] = true
			}
		}
	}
	return out
}
