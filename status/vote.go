package status

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/outpost-status/outpost/probes"
)

// The vote. In a cluster every node is a location and every check runs
// from each of its locations. A location's own thresholds move only its
// regional status (CheckState.Regions); the check's status, the one the
// page and the incidents follow, moves only by a confirmation round: the
// first result that disagrees with it opens a round, every other location
// is asked to run the check at once (a re-check the applied step asks for,
// on every node alike), and the round's answers (each location's first
// result at or after the round opened) are put to the vote. Everything
// here runs inside apply, from the log's entries only, so every node
// reaches the same verdict.

// VoteRule says how many of the locations that can see must find a check
// down for it to be down: "majority" (more than half), "any", "all", or a
// number.
type VoteRule string

// The named vote rules; any other value is a number of locations.
const (
	VoteMajority VoteRule = "majority"
	VoteAny      VoteRule = "any"
	VoteAll      VoteRule = "all"
)

// Valid reports a rule the engine understands.
func (r VoteRule) Valid() bool {
	switch r {
	case "", VoteMajority, VoteAny, VoteAll:
		return true
	}
	n, err := strconv.Atoi(string(r))
	return err == nil && n >= 1
}

// Passes reports whether yes of seeing locations carry the vote.
func (r VoteRule) Passes(yes, seeing int) bool {
	if seeing <= 0 || yes <= 0 {
		return false
	}
	switch r {
	case VoteAny:
		return true
	case VoteAll:
		return yes >= seeing
	case "", VoteMajority:
		return 2*yes > seeing
	}
	n, err := strconv.Atoi(string(r))
	if err != nil || n < 1 {
		return 2*yes > seeing
	}
	return yes >= min(n, seeing)
}

// Regional is what a failure seen from a minority of locations does
// publicly: RegionalDegraded shows the component degraded, RegionalIgnore
// nothing. Operators are told either way.
type Regional string

// The regional modes.
const (
	RegionalDegraded Regional = "degraded"
	RegionalIgnore   Regional = "ignore"
)

// Voting is the cluster-wide vote (config voting:).
type Voting struct {
	Rule VoteRule
	// MinLocations is how many locations must see for a verdict; capped
	// at the number a check runs from. Default 2.
	MinLocations int
	Regional     Regional
}

// Round is a check's open confirmation round.
type Round struct {
	Opened time.Time `json:"opened"`
	// Deadline: a location that has not answered by then is out of the
	// round's vote.
	Deadline time.Time `json:"deadline"`
}

// voters lists the locations whose results vote on def: none (today's
// rule over every result) without a cluster of two locations or more, for
// canaries (each location's own), and for push checks (a beat reaches one
// node).
func (e *Engine) voters(def CheckDef) []string {
	if len(e.m.Locations) < 2 || def.Canary || def.Push {
		return nil
	}
	locs := e.m.Locations
	if len(def.Locations) > 0 {
		locs = def.Locations
	}
	if len(locs) < 2 {
		return nil
	}
	return locs
}

// outcomeStatus is the status a single run argues for.
func outcomeStatus(o probes.Outcome) CheckStatus {
	switch o {
	case probes.Up:
		return CheckUp
	case probes.Down:
		return CheckDown
	}
	return CheckDegraded
}

// applyRegion moves the result's location's own state (its thresholds)
// and asks for that location's re-check while it is pending.
func (e *Engine) applyRegion(def CheckDef, cs *CheckState, r CheckResult) {
	if cs.Regions == nil {
		cs.Regions = map[string]*CheckState{}
	}
	rg := cs.Regions[r.Location]
	if rg == nil {
		rg = &CheckState{Status: CheckUnknown}
		cs.Regions[r.Location] = rg
		// A new region is an input of judgeLocations as a moved status
		// is: a member restarted later judges again and must agree.
		e.regionMoved = true
	}
	at := r.At.UTC()
	rg.LastAt, rg.LastOutcome, rg.LastReason, rg.LastMessage, rg.LastLatency = at, r.Result.Outcome, r.Result.Reason, r.Result.Message, r.Result.Latency
	countRun(rg, r.Result.Outcome)
	if next := nextCheckStatus(rg, def); next != rg.Status {
		rg.Status, rg.Since = next, at
		e.regionMoved = true
	}
	if pending(rg, def) && def.RecheckInterval > 0 && def.RecheckInterval < def.Every {
		e.ch.Rechecks = append(e.ch.Rechecks, Recheck{Check: def.Name, At: at.Add(def.RecheckInterval), Locations: []string{r.Location}})
	}
}

// applyVoted is applyResult's way for a voted check: the location's own
// state moves; a result that disagrees with the check's status opens a
// round (the first Up of a check with no status yet needs none); and an
// open round is decided when it can be.
func (e *Engine) applyVoted(def CheckDef, cs *CheckState, voters []string, r CheckResult, now time.Time) {
	e.applyRegion(def, cs, r)
	at := r.At.UTC()
	if !at.Before(cs.LastAt) {
		cs.LastAt, cs.LastOutcome, cs.LastReason, cs.LastMessage, cs.LastLatency = at, r.Result.Outcome, r.Result.Reason, r.Result.Message, r.Result.Latency
	}
	if at.After(e.lastAny) {
		e.lastAny = at
	}
	want := outcomeStatus(r.Result.Outcome)
	switch {
	case cs.Round != nil:
	case cs.Status == CheckUnknown && want == CheckUp:
		cs.Status, cs.Since = CheckUp, at
		e.dirty[def.Component] = true
		e.ch.Visible = true
	case want != cs.Status && !e.locationCutOff(r.Location): // a cut-off location's failures say nothing
		cs.Round = &Round{Opened: at, Deadline: at.Add(roundWait(def))}
		e.rounds[def.Name] = true
		var others []string
		for _, l := range voters {
			if l != r.Location {
				others = append(others, l)
			}
		}
		e.ch.Rechecks = append(e.ch.Rechecks, Recheck{Check: def.Name, At: now, Locations: others})
	}
	e.decide(def, cs, voters, now)
	e.regional(def, cs, voters, now)
}

// roundWait is how long a round waits for a location's answer: a run's
// timeout is within the check's period, and each location also runs on
// its own staggered schedule within it.
func roundWait(def CheckDef) time.Duration {
	return max(def.Every, time.Second)
}

// seeing reports whether a location can take part in a vote on def at
// now: it has a fresh result of the check and its canaries do not say it
// is cut off.
func (e *Engine) seeing(def CheckDef, cs *CheckState, loc string, now time.Time) bool {
	if e.silent(def, cs.Regions[loc], now) {
		return false
	}
	return !e.locationCutOff(loc)
}

// silent reports whether a location's state rg of def (nil: none yet)
// has no result within StaleAfter of def's period before now.
func (e *Engine) silent(def CheckDef, rg *CheckState, now time.Time) bool {
	return silentSince(rg, e.quietBefore(def, now))
}

// quietBefore is silent's bound for def at now: a location whose last
// result of def is before it is silent. A pass over many locations of one
// check works it out once (locate).
func (e *Engine) quietBefore(def CheckDef, now time.Time) time.Time {
	return now.Add(-time.Duration(e.m.StaleAfter) * max(def.Every, time.Second))
}

// silentSince reports whether rg (nil: none yet) has no result since
// quiet (quietBefore).
func silentSince(rg *CheckState, quiet time.Time) bool {
	return rg == nil || rg.LastAt.Before(quiet)
}

// locationCutOff reports a location out of the vote: judged so
// (State.Faulty, locations.go), or cut off by its canaries this step.
func (e *Engine) locationCutOff(loc string) bool {
	if _, out := e.s.Faulty[loc]; out {
		return true
	}
	cut, _, _ := e.canariesCutOff(loc)
	return cut
}

// canariesCutOff applies the canary rule to one location: at least half
// of the canaries are down from there (by that location's thresholds).
func (e *Engine) canariesCutOff(loc string) (cut bool, failing, total int) {
	for _, c := range e.canaries() {
		total++
		if cs := e.s.Checks[c.Name]; cs != nil {
			if rg := cs.Regions[loc]; rg != nil && rg.Status == CheckDown {
				failing++
			}
		}
	}
	return total > 0 && 2*failing >= total, failing, total
}

// tally counts a round's answers: Down, not Up, answered; and the
// locations that can still answer.
type tally struct {
	down, notUp, answered, waiting int
}

func (e *Engine) count(def CheckDef, cs *CheckState, voters []string, now time.Time) tally {
	var t tally
	for _, loc := range voters {
		rg := cs.Regions[loc]
		switch {
		case rg != nil && !rg.LastAt.Before(cs.Round.Opened):
			if e.locationCutOff(loc) {
				continue // its answer says nothing about the target
			}
			t.answered++
			if rg.LastOutcome != probes.Up {
				t.notUp++
			}
			if rg.LastOutcome == probes.Down {
				t.down++
			}
		case now.Before(cs.Round.Deadline) && (rg == nil || e.seeing(def, cs, loc, now)):
			// A location with no result of the check yet (the cluster
			// has just started) is waited for too: it was asked to run.
			t.waiting++
		}
	}
	return t
}

// decide closes cs's round once every location that can see has
// answered, or at its deadline, and moves the check's status to the
// vote's verdict. Fewer answers than min_locations decide nothing:
// operators are told the verdict cannot be confirmed, once.
func (e *Engine) decide(def CheckDef, cs *CheckState, voters []string, now time.Time) {
	if cs.Round == nil {
		return
	}
	t := e.count(def, cs, voters, now)
	if t.waiting > 0 {
		return
	}
	cs.Round = nil
	delete(e.rounds, def.Name)
	e.ch.Checks = append(e.ch.Checks, def.Name)
	need := min(max(e.m.Voting.MinLocations, 1), len(voters))
	if e.m.Voting.MinLocations == 0 {
		need = min(2, len(voters))
	}
	if t.answered < need {
		if !cs.Unconfirmed {
			cs.Unconfirmed = true
			e.emit(Event{Type: CheckUnconfirmed, At: now, Private: e.regionDetail(def, cs, voters),
				Text: fmt.Sprintf("Cannot confirm %s: only %d of %d locations can see it (%d needed); its public status is unchanged.",
					def.Name, t.answered, len(voters), need)})
		}
		return
	}
	cs.Unconfirmed = false
	rule := e.m.Voting.Rule
	if def.Vote != "" {
		rule = def.Vote
	}
	next := CheckUp
	switch {
	case rule.Passes(t.down, t.answered):
		next = CheckDown
	case rule.Passes(t.notUp, t.answered):
		next = CheckDegraded
	}
	if next != cs.Status {
		cs.Status, cs.Since = next, now
		cs.Fails, cs.NotUp, cs.Oks, cs.NotDown = 0, 0, 0, 0
		e.dirty[def.Component] = true
		e.ch.Visible = true
	}
}

// regional keeps the locations from which a check fails while its voted
// status is up: each location by its own thresholds, and it stays listed
// until it is steadily up again (steadyUp), so a flapping location makes
// one regional period, not one per flap.
func (e *Engine) regional(def CheckDef, cs *CheckState, voters []string, now time.Time) {
	var next []string
	if cs.Status == CheckUp {
		for _, loc := range voters {
			rg := cs.Regions[loc]
			if rg == nil || e.locationCutOff(loc) {
				continue
			}
			failing := rg.Status == CheckDown || rg.Status == CheckDegraded
			held := slices.Contains(cs.Regional, loc) && !steadyUp(def, rg, now)
			if failing || held {
				next = append(next, loc)
			}
		}
	}
	if slices.Equal(next, cs.Regional) {
		return
	}
	was := len(cs.Regional) > 0
	cs.Regional = next
	e.ch.Checks = append(e.ch.Checks, def.Name)
	if e.m.Voting.Regional != RegionalIgnore {
		e.dirty[def.Component] = true
		e.ch.Visible = true
	}
	switch {
	case len(next) > 0 && !was:
		e.emit(Event{Type: CheckRegional, At: now, Private: e.regionDetail(def, cs, voters),
			Text: fmt.Sprintf("Regional: %s fails from %s and is fine from the other locations; its component is %s.",
				def.Name, strings.Join(next, ", "), e.regionalWord())})
	case len(next) == 0 && was && cs.Status == CheckUp: // (a verdict of down says the rest)
		e.emit(Event{Type: CheckRegionalCleared, At: now, Private: e.regionDetail(def, cs, voters),
			Text: fmt.Sprintf("Cleared: %s fails from no location in the vote now.", def.Name)})
	}
}

func (e *Engine) regionalWord() string {
	if e.m.Voting.Regional == RegionalIgnore {
		return "unchanged (voting.regional: ignore)"
	}
	return "shown as degraded"
}

// regionDetail is every location's last result of a check, for operators.
func (e *Engine) regionDetail(def CheckDef, cs *CheckState, voters []string) *Private {
	p := &Private{}
	for _, loc := range voters {
		if rg := cs.Regions[loc]; rg != nil {
			p.Checks = append(p.Checks, CheckDetail{Name: def.Name, Component: def.Component, Location: loc, Status: rg.Status,
				Outcome: rg.LastOutcome, Reason: rg.LastReason, Message: rg.LastMessage, At: rg.LastAt})
		}
	}
	return p
}

// decideDue closes the rounds whose deadline has passed, in name order
// (a step with no result of the check must still decide it).
func (e *Engine) decideDue(now time.Time) {
	if e.rescan {
		clear(e.rounds)
		for name, cs := range e.s.Checks {
			if cs.Round != nil {
				e.rounds[name] = true
			}
		}
	}
	if len(e.rounds) == 0 {
		return
	}
	names := make([]string, 0, len(e.rounds))
	for n := range e.rounds {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		def, ok := e.m.check(n)
		cs := e.s.Checks[n]
		voters := e.voters(def)
		if !ok || cs == nil || cs.Round == nil || voters == nil {
			if cs != nil && cs.Round != nil { // the model changed under it
				cs.Round = nil
				e.ch.Checks = append(e.ch.Checks, n)
			}
			delete(e.rounds, n)
			continue
		}
		if !now.Before(cs.Round.Deadline) {
			e.decide(def, cs, voters, now)
			e.regional(def, cs, voters, now)
		}
	}
}

// steadyUp reports a location up again for at least three periods and
// five runs in a row: a location flapping every second (with re-checks
// every 300 ms) made three regional periods when three periods alone
// ended one, and a time alone would hold a slow check's trouble for long.
func steadyUp(def CheckDef, rg *CheckState, now time.Time) bool {
	return rg.Status == CheckUp && rg.Oks >= max(5, 2*def.SuccessThreshold) && now.Sub(rg.Since) >= 3*max(def.Every, time.Second)
}
