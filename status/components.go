package status

import (
	"slices"
	"time"
)

// Components: each one's status from its checks, its manual status and its
// maintenance, recomputed only where something changed (see Engine.dirty),
// and the time spent in each status for the uptime roll-ups.

// autoStatus derives a component's status from its checks' confirmed
// statuses; unknown checks do not count.
func (e *Engine) autoStatus(id string) ComponentStatus {
	var known, down, degraded int
	for _, c := range e.m.checksOf(id) {
		cs := e.s.Checks[c.Name]
		if cs == nil || cs.Status == CheckUnknown {
			continue
		}
		known++
		if cs.Status == CheckUp && len(cs.Regional) > 0 && e.m.Voting.Regional != RegionalIgnore && e.voters(*c) != nil {
			degraded++ // up by the vote, failing from some locations
		}
		switch cs.Status {
		case CheckDown:
			down++
		case CheckDegraded:
			degraded++
		}
	}
	switch {
	case known > 0 && down == known:
		return MajorOutage
	case down > 0:
		return PartialOutage
	case degraded > 0:
		return DegradedPerformance
	}
	return Operational
}

// ensureComponents creates state for components new to the model.
func (e *Engine) ensureComponents(now time.Time) {
	for _, def := range e.m.Components {
		if e.s.Components[def.ID] == nil {
			e.s.Components[def.ID] = &ComponentState{Status: Operational, Since: now, AccountedAt: now, CreatedAt: now, NoData: e.noData(def.ID)}
			e.ch.Components = append(e.ch.Components, def.ID)
		}
	}
}

// components recomputes the status of every component that may have
// changed (all of them on a rescan) and records changes, in page order.
// While connectivity is degraded, statuses hold: what the checks see then
// says nothing about the targets.
func (e *Engine) components(now time.Time) {
	defs := e.m.Components
	if e.rescan {
		e.ensureComponents(now)
		e.hour, e.rescan = hourOf(now), false
		clear(e.outages)
	} else {
		defs = e.dirtyDefs()
	}
	clear(e.dirty)
	frozen := !e.s.ConnectivitySince.IsZero()
	for _, def := range defs {
		st := e.s.Components[def.ID]
		e.component(def, st, frozen, now)
		if st.Status.IsOutage() {
			e.outages[def.ID] = true
		} else {
			delete(e.outages, def.ID)
		}
	}
}

// component recomputes one component's status and records a change.
func (e *Engine) component(def ComponentDef, st *ComponentState, frozen bool, now time.Time) {
	if frozen {
		if hourOf(now) != hourOf(st.AccountedAt) {
			e.account(def.ID, st, now)
			e.ch.Components = append(e.ch.Components, def.ID)
		}
		return
	}
	auto := e.autoStatus(def.ID)
	if !auto.IsOutage() && st.Suppressed {
		st.Suppressed = false
		e.ch.Components = append(e.ch.Components, def.ID)
	}
	next := auto
	if st.Manual != "" {
		next = st.Manual
	}
	if e.inMaintenance(def.ID) {
		next = UnderMaintenance
	}
	if next != st.Status {
		// Users suffered from the first failed run, not from when the
		// thresholds confirmed it: outage time counts from there, so the
		// uptime figures move in the same step as the status.
		from := now
		if next.IsOutage() && !st.Status.IsOutage() {
			if s := e.outageStart(def.ID, now); s.After(st.AccountedAt) {
				from = s
			} else if st.AccountedAt.Before(now) {
				from = st.AccountedAt
			}
		}
		e.account(def.ID, st, from)
		old := st.Status
		if st.NoData { // its operational claimed nothing: no old status
			old = ""
		}
		e.emit(Event{Type: ComponentStatusChanged, At: now,
			Component: &ComponentEvent{ID: def.ID, Name: def.Name, OldStatus: old, NewStatus: next},
			Private:   e.privateFor([]string{def.ID})})
		st.Previous, st.Status, st.Since = st.Status, next, now
		st.PreviousNoData = st.NoData
		e.ch.Components = append(e.ch.Components, def.ID)
		if hourOf(from) != hourOf(now) {
			e.rescan = true // the outage began last hour: account that hour next step
		}
	} else if hourOf(now) != hourOf(st.AccountedAt) {
		// Roll up at least hourly so history stays current.
		e.account(def.ID, st, now)
		e.ch.Components = append(e.ch.Components, def.ID)
	}
	if st.NoData && !e.noData(def.ID) {
		st.NoData = false
		e.ch.Components = append(e.ch.Components, def.ID)
	}
}

func hourOf(t time.Time) int64 { return t.Unix() / 3600 }

// dirtyDefs are the dirty components still in the model, in page order.
func (e *Engine) dirtyDefs() []ComponentDef { return e.defsOf(e.dirty) }

// inOutage are the components in an outage, in page order.
func (e *Engine) inOutage() []ComponentDef { return e.defsOf(e.outages) }

// defsOf are the components of a set still in the model, in page order.
func (e *Engine) defsOf(set map[string]bool) []ComponentDef {
	idx := make([]int, 0, len(set))
	for id := range set {
		if i, ok := e.m.idx.component[id]; ok && e.s.Components[id] != nil {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	defs := make([]ComponentDef, len(idx))
	for n, i := range idx {
		defs[n] = e.m.Components[i]
	}
	return defs
}

// account closes the component's current status segment at now.
func (e *Engine) account(id string, st *ComponentState, now time.Time) {
	if now.After(st.AccountedAt) {
		e.ch.Segments = append(e.ch.Segments, Segment{Component: id, Status: st.Status, From: st.AccountedAt, To: now})
	}
	st.AccountedAt = now
}
