package status

import (
	"fmt"
	"time"

	"github.com/outpost-status/outpost/probes"
)

// canaries are the model's canary checks, from its index (each step asks).
func (e *Engine) canaries() []*CheckDef { return e.m.idx.canaries }

// connectivity applies the canary rule: when enough checks are down and at
// least half of the canaries fail too, it is Outpost that is cut off, not
// the world. Operators are told; the public sees "Monitoring connectivity
// degraded", not an outage.
func (e *Engine) connectivity(now time.Time) {
	cans := e.canaries()
	if len(cans) == 0 {
		if !e.s.ConnectivitySince.IsZero() { // canaries removed by a reload
			e.s.ConnectivitySince = time.Time{}
		}
		return
	}
	failing := 0
	for _, c := range cans {
		if cs := e.s.Checks[c.Name]; cs != nil && cs.Status == CheckDown {
			failing++
		}
	}
	canariesDown := 2*failing >= len(cans)
	of, what := len(cans), "canaries"
	if len(e.m.Locations) >= 2 {
		// A cluster: each location's canaries speak for it alone (a cut-off
		// location is out of the vote); the whole monitor is cut off when
		// most of its locations are.
		failing = 0
		for _, loc := range e.m.Locations {
			if cut, _, _ := e.canariesCutOff(loc); cut {
				failing++
			}
		}
		canariesDown = 2*failing > len(e.m.Locations)
		of, what = len(e.m.Locations), "locations (by their canaries)"
	}
	known, down := 0, 0
	for _, c := range e.m.Checks {
		if cs := e.s.Checks[c.Name]; !c.Canary && !c.Warning && cs != nil && cs.Status != CheckUnknown {
			known++
			if cs.Status == CheckDown {
				down++
			}
		}
	}
	threshold := e.m.ConnectivityThreshold
	if threshold <= 0 {
		threshold = 0.5
	}
	cutOff := canariesDown && known > 0 && float64(down) >= threshold*float64(known)
	if len(e.m.Locations) >= 2 {
		// Most locations cut off by their own canaries: their results are
		// out of the vote, so no check goes down to count, and the page
		// would show fresh green; the canaries alone say it.
		cutOff = canariesDown
	}
	switch {
	case cutOff && e.s.ConnectivitySince.IsZero():
		e.s.ConnectivitySince = now
		e.emit(Event{Type: MonitorConnectivityLost, At: now, Private: e.privateCanaries(cans),
			Text: fmt.Sprintf("Monitoring connectivity degraded: %d of %d checks and %d of %d %s are down; failures are not announced publicly.",
				down, known, failing, of, what)})
	case !canariesDown && !e.s.ConnectivitySince.IsZero():
		since := e.s.ConnectivitySince
		e.s.ConnectivitySince = time.Time{}
		e.emit(Event{Type: MonitorConnectivityFixed, At: now,
			Text: fmt.Sprintf("Monitoring connectivity restored after %s; failures now count again.", HumanDuration(now.Sub(since)))})
	}
}

func (e *Engine) privateCanaries(cans []*CheckDef) *Private {
	p := &Private{}
	for _, c := range cans {
		if cs := e.s.Checks[c.Name]; cs != nil {
			p.Checks = append(p.Checks, CheckDetail{Name: c.Name, Status: cs.Status, Outcome: cs.LastOutcome,
				Reason: cs.LastReason, Message: cs.LastMessage, At: cs.LastAt})
		}
	}
	return p
}

// canariesUnsettled reports whether an outage confirmed at since must wait
// for the canaries before it is announced: a canary has not answered since,
// or is failing without being confirmed either way. The wait is bounded by
// twice the slowest canary's period.
func (e *Engine) canariesUnsettled(since, now time.Time) bool {
	if len(e.m.Locations) >= 2 {
		// A cluster's verdict is a vote of the locations that can see,
		// each judged by its own canaries already: nothing to wait for.
		return false
	}
	cans := e.canaries()
	var longest time.Duration
	unsettled := false
	for _, c := range cans {
		longest = max(longest, c.Every)
		cs := e.s.Checks[c.Name]
		switch {
		case cs == nil || cs.LastAt.Before(since):
			unsettled = true
		case cs.LastOutcome != probes.Up && cs.Status != CheckDown: // failing, not yet confirmed
			unsettled = true
		}
	}
	return unsettled && now.Sub(since) < 2*longest
}

// recheckCanaries asks every canary to run now: a check just went down.
func (e *Engine) recheckCanaries(now time.Time) {
	for _, c := range e.canaries() {
		e.ch.Rechecks = append(e.ch.Rechecks, Recheck{Check: c.Name, At: now})
	}
}
