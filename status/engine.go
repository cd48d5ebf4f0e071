package status

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/outpost-status/outpost/probes"
)

// ErrNotCommitted means a step (and the commands in it) failed to commit:
// nothing it asked for took effect, in memory or on disk.
var ErrNotCommitted = errors.New("the change was not saved (the data file refused the write); nothing changed")

// ErrOutcomeUnknown means a step's commands may or may not have taken
// effect: a cluster's leader took them and was lost before it answered,
// and no new leader confirmed them in time. The caller must look before
// trying again, or the change may be made twice.
var ErrOutcomeUnknown = errors.New("the change may or may not have been made: the cluster's leader was lost before it answered; " +
	"check whether it took effect before trying again")

// ErrAnswerLost means a step's commands took effect, but their replies
// were lost with the cluster's leader that made them.
var ErrAnswerLost = errors.New("the change was made, but the cluster's leader was lost before it answered; look it up rather than trying again")

// Batch is one engine step: results gathered since the last step, human
// commands, and the time of the step.
type Batch struct {
	Now      time.Time
	Results  []CheckResult
	Commands []Command
}

// Changes is what one step changed: what the store must persist in one
// transaction, and what the runtime must do next.
type Changes struct {
	Seq        uint64        // the state's sequence after the step
	Checks     []string      // names of checks whose state changed
	Components []string      // ids of components whose state changed
	Incidents  []*Incident   // copies of incidents created or changed
	Events     []Event       // in order
	Results    []CheckResult // the batch's results, sorted
	Segments   []Segment     // component status time to roll up
	Rechecks   []Recheck     // confirmation runs to schedule
	Replies    []Reply       // one per command, in order
	Audit      []AuditEntry  // one per successful command
	// Meta: engine-wide state changed (e.g. a maintenance window first seen)
	// with nothing else, and must be committed all the same.
	Meta bool
	// Visible: the step changed what the page shows beyond freshness (a
	// check's or component's status, an incident, a delay), so its
	// snapshot should be published at once.
	Visible bool
}

// AuditEntry records who changed what, committed with the change itself.
type AuditEntry struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Detail string    `json:"detail,omitempty"`
}

// Empty reports a step that changed nothing durable.
func (c *Changes) Empty() bool {
	return len(c.Checks) == 0 && len(c.Components) == 0 && len(c.Incidents) == 0 &&
		len(c.Events) == 0 && len(c.Results) == 0 && len(c.Segments) == 0 && len(c.Audit) == 0 && !c.Meta
}

// Segment is time a component spent in one status, for uptime roll-ups.
type Segment struct {
	Component string
	Status    ComponentStatus
	From, To  time.Time
}

// Recheck asks for a check to run again soon to confirm a transition.
type Recheck struct {
	Check string
	At    time.Time
	// Locations are where it should run again (a cluster's confirmation
	// round); empty: wherever it runs.
	Locations []string
}

// Engine applies batches to a State under a Model. It is not safe for
// concurrent use: one goroutine owns it.
type Engine struct {
	m  *Model
	s  *State
	ch *Changes // the step in progress

	// A step recomputes only the components whose checks changed status
	// (dirty), and all of them when rescan is set: a new model or state, a
	// command, a window starting or ending, connectivity changing, or a new
	// hour to account. At thousands of components a full pass in each of
	// twenty steps a second was most of the engine's time.
	dirty  map[string]bool
	rescan bool
	// outages are the components in an outage, kept by components(): the
	// automatic incidents look at those only.
	outages map[string]bool
	hour    int64 // of the last full pass
	// lastAny is the newest result of any check, kept as results arrive
	// (recomputed on rescan), for delayed.
	lastAny time.Time
	// rounds are the checks with an open confirmation round (vote.go),
	// rebuilt from the state on rescan.
	rounds map[string]bool
	// regionMoved: a location's own status of some check changed this
	// step, so which locations are at fault is judged again.
	regionMoved bool
}

// NewEngine wraps state (which it will mutate) under model.
func NewEngine(m *Model, s *State) *Engine {
	if s == nil {
		s = NewState()
	}
	if m.StaleAfter <= 0 {
		m.StaleAfter = 2
	}
	if m.Location == nil {
		m.Location = time.UTC
	}
	m.index()
	return &Engine{m: m, s: s, dirty: map[string]bool{}, outages: map[string]bool{}, rounds: map[string]bool{}, rescan: true}
}

// State exposes the live state for reading by the owner goroutine.
func (e *Engine) State() *State { return e.s }

// Restore replaces the live state with st. The runtime calls it with the
// store's copy after a step whose commit failed, so a step is all or
// nothing in memory as on disk.
func (e *Engine) Restore(st *State) { e.s, e.rescan = st, true }

// Model returns the model in force.
func (e *Engine) Model() *Model { return e.m }

// SetModel swaps the model (config reload), keeping state of what remains.
func (e *Engine) SetModel(m *Model) {
	if m.StaleAfter <= 0 {
		m.StaleAfter = 2
	}
	if m.Location == nil {
		m.Location = time.UTC
	}
	m.index()
	e.m, e.rescan = m, true
}

// Apply runs one step.
func (e *Engine) Apply(b Batch) *Changes {
	e.ch = &Changes{}
	ch := e.ch
	now := b.Now.UTC()
	results := slices.Clone(b.Results)
	sort.SliceStable(results, func(i, j int) bool {
		if !results[i].At.Equal(results[j].At) {
			return results[i].At.Before(results[j].At)
		}
		return results[i].Check < results[j].Check
	})
	wentDown := false
	// The results the engine keeps are a prefix of its sorted copy, kept
	// in place: a step of thousands grew a new slice a dozen times.
	kept := results[:0]
	for _, r := range results {
		before := e.checkStatus(r.Check)
		if e.applyResult(r, now) {
			kept = append(kept, r)
			if after := e.checkStatus(r.Check); after == CheckDown && before != CheckDown && !e.isCanary(r.Check) {
				wentDown = true
			}
		}
	}
	if len(kept) > 0 {
		ch.Results = kept
	}
	if wentDown {
		e.recheckCanaries(now)
	}
	if len(b.Commands) > 0 || hourOf(now) != e.hour {
		e.rescan = true
	}
	if e.rescan {
		e.ensureComponents(now) // commands may set component statuses
	}
	for _, c := range b.Commands {
		r := e.command(now, c)
		ch.Replies = append(ch.Replies, r)
		if r.Err == "" {
			ch.Audit = append(ch.Audit, AuditEntry{At: now, Actor: c.Author, Action: string(c.Kind), Target: r.IncidentID, Detail: c.describe()})
		}
	}
	delayed, cut := e.s.DelayedSince, e.s.ConnectivitySince
	e.delayed(now)
	e.connectivity(now)
	if !delayed.Equal(e.s.DelayedSince) || !cut.Equal(e.s.ConnectivitySince) {
		ch.Visible = true
	}
	if !cut.Equal(e.s.ConnectivitySince) {
		e.rescan = true // statuses freeze or thaw
	}
	e.judgeLocations(now)
	e.decideDue(now)
	events := len(ch.Events)
	e.maintenance(now)
	if len(ch.Events) != events {
		e.rescan = true // a window started or ended
	}
	e.components(now)
	e.autoIncidents(now)
	e.pruneClosed(now)
	ch.Checks = dedupe(ch.Checks)
	ch.Components = dedupe(ch.Components)
	ch.Visible = ch.Visible || len(ch.Events) > 0 || len(ch.Incidents) > 0 || len(b.Commands) > 0
	ch.Seq = e.s.Seq
	e.ch = nil
	return ch
}

func sortStrings(s []string) { sort.Strings(s) }

func dedupe(s []string) []string {
	sort.Strings(s)
	return slices.Compact(s)
}

// nextID hands out the next sequence number with a prefix.
func (e *Engine) nextID(prefix string) (string, uint64) {
	e.s.Seq++
	return fmt.Sprintf("%s%d", prefix, e.s.Seq), e.s.Seq
}

// applyResult moves a check's counters and status; false for unknown checks
// (a result that raced a reload).
func (e *Engine) applyResult(r CheckResult, now time.Time) bool {
	def, ok := e.m.check(r.Check)
	if !ok {
		return false
	}
	voters := e.voters(def)
	if voters != nil && !slices.Contains(voters, r.Location) {
		return false // not from a location the check votes from
	}
	cs := e.s.Checks[r.Check]
	if cs == nil {
		cs = &CheckState{Status: CheckUnknown}
		e.s.Checks[r.Check] = cs
	}
	if voters != nil {
		e.applyVoted(def, cs, voters, r, now)
		e.ch.Checks = append(e.ch.Checks, r.Check)
		return true
	}
	if def.Canary && r.Location != "" && len(e.m.Locations) >= 2 {
		e.applyRegion(def, cs, r) // each location's canaries say whether it can see
	}
	at := r.At.UTC()
	cs.LastAt, cs.LastOutcome, cs.LastReason, cs.LastMessage, cs.LastLatency = at, r.Result.Outcome, r.Result.Reason, r.Result.Message, r.Result.Latency
	if at.After(e.lastAny) {
		e.lastAny = at
	}
	countRun(cs, r.Result.Outcome)
	if next := nextCheckStatus(cs, def); next != cs.Status {
		if def.Warning {
			e.warn(def, cs, next, at)
		}
		cs.Status, cs.Since = next, at
		e.dirty[def.Component] = true
		e.ch.Visible = e.ch.Visible || !def.Warning
	}
	e.ch.Checks = append(e.ch.Checks, r.Check)
	if pending(cs, def) && def.RecheckInterval > 0 && def.RecheckInterval < def.Every {
		e.ch.Rechecks = append(e.ch.Rechecks, Recheck{Check: r.Check, At: at.Add(def.RecheckInterval)})
	}
	return true
}

// warn tells operators that a warning check went bad, or is fine again;
// the public page is not told (affects: warning).
func (e *Engine) warn(def CheckDef, cs *CheckState, next CheckStatus, at time.Time) {
	detail := &Private{Checks: []CheckDetail{{Name: def.Name, Component: def.Component, Status: next,
		Outcome: cs.LastOutcome, Reason: cs.LastReason, Message: cs.LastMessage, At: at}}}
	switch {
	case next == CheckDown || next == CheckDegraded:
		e.emit(Event{Type: CheckWarning, At: at, Private: detail,
			Text: fmt.Sprintf("Warning: %s is %s (%s); %s's public status is unchanged.", def.Name, next, cs.LastReason, def.Component)})
	case next == CheckUp && (cs.Status == CheckDown || cs.Status == CheckDegraded):
		e.emit(Event{Type: CheckWarningCleared, At: at, Private: detail,
			Text: fmt.Sprintf("Cleared: %s is up again.", def.Name)})
	}
}

func countRun(cs *CheckState, o probes.Outcome) {
	inc := func(n *int, yes bool) {
		if yes {
			*n++
		} else {
			*n = 0
		}
	}
	inc(&cs.Fails, o == probes.Down)
	inc(&cs.NotUp, o != probes.Up)
	inc(&cs.Oks, o == probes.Up)
	inc(&cs.NotDown, o != probes.Down)
}

// nextCheckStatus applies the thresholds: failure_threshold consecutive
// failures to go down (or non-up runs to go degraded), success_threshold
// consecutive good runs to come back.
func nextCheckStatus(cs *CheckState, d CheckDef) CheckStatus {
	ft, st := max(d.FailureThreshold, 1), max(d.SuccessThreshold, 1)
	switch cs.Status {
	case CheckDown:
		if cs.NotDown >= st {
			if cs.Oks >= st {
				return CheckUp
			}
			return CheckDegraded
		}
	case CheckDegraded:
		if cs.Fails >= ft {
			return CheckDown
		}
		if cs.Oks >= st {
			return CheckUp
		}
	default: // up or unknown
		switch {
		case cs.Fails >= ft:
			return CheckDown
		case cs.NotUp >= ft:
			return CheckDegraded
		case cs.Status == CheckUnknown && cs.Oks >= 1:
			return CheckUp
		}
	}
	return cs.Status
}

// pending reports a check whose last run disagrees with its confirmed
// status: the next run decides, so it should come sooner.
func pending(cs *CheckState, d CheckDef) bool {
	switch cs.LastOutcome {
	case probes.Down:
		return cs.Status != CheckDown
	case probes.Degraded:
		return cs.Status == CheckUp || cs.Status == CheckUnknown || cs.Status == CheckDown
	default:
		return cs.Status == CheckDown || cs.Status == CheckDegraded
	}
}

func (e *Engine) checkStatus(name string) CheckStatus {
	if cs := e.s.Checks[name]; cs != nil {
		return cs.Status
	}
	return CheckUnknown
}

func (e *Engine) isCanary(name string) bool {
	d, ok := e.m.check(name)
	return ok && d.Canary
}

// pruneClosed forgets closed incidents older than the reopen window; the
// store keeps them for history.
func (e *Engine) pruneClosed(now time.Time) {
	for id, inc := range e.s.Incidents {
		if !inc.Open() && now.Sub(inc.ResolvedAt) > e.m.ReopenWindow {
			delete(e.s.Incidents, id)
		}
	}
}

// sortedIncidents returns state incidents ordered by sequence, so every
// loop over them is deterministic.
func (e *Engine) sortedIncidents() []*Incident {
	out := make([]*Incident, 0, len(e.s.Incidents))
	for _, inc := range e.s.Incidents {
		out = append(out, inc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// delayed notices when no check at all has produced a result for
// StaleAfter of the shortest check period: the scheduler or the whole
// monitor is stuck, and the page must say so rather than show stale green.
func (e *Engine) delayed(now time.Time) {
	if e.s.WatchingSince.IsZero() {
		e.s.WatchingSince = now
	}
	if len(e.m.Checks) == 0 {
		return
	}
	if e.rescan { // a new model or state: find the newest result again
		e.lastAny = time.Time{}
		for _, c := range e.m.Checks {
			if cs := e.s.Checks[c.Name]; cs != nil && cs.LastAt.After(e.lastAny) {
				e.lastAny = cs.LastAt
			}
		}
	}
	last, shortest := e.s.WatchingSince, e.m.idx.shortest
	if e.lastAny.After(last) {
		last = e.lastAny
	}
	silent := shortest > 0 && now.Sub(last) > time.Duration(e.m.StaleAfter)*shortest
	switch {
	case silent && e.s.DelayedSince.IsZero():
		e.s.DelayedSince = last
		e.emit(Event{Type: MonitorDelayed, At: now,
			Text: fmt.Sprintf("Monitoring delayed: no check has produced a result since %s.", last.UTC().Format(time.RFC3339))})
	case !silent && !e.s.DelayedSince.IsZero():
		e.s.DelayedSince = time.Time{}
	}
}
