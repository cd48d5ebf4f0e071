package status

import (
	"fmt"
	"time"
)

// maintenance starts and completes configured windows. An active window is
// a maintenance incident; its components show under_maintenance and open
// no automatic incident.
func (e *Engine) maintenance(now time.Time) {
	active := map[string]bool{}
	if e.s.Seen == nil {
		e.s.Seen = map[string]time.Time{}
	}
	for _, def := range e.m.Maintenance {
		if _, ok := e.s.Seen[def.ID]; !ok {
			e.s.Seen[def.ID] = now
			e.ch.Meta = true
		}
		start, end, ok := def.occurrence(now)
		if !ok {
			continue
		}
		active[def.ID] = true
		if id, running := e.s.Maint[def.ID]; running {
			if inc := e.s.Incidents[id]; inc != nil && inc.Maintenance.ScheduledFor.Equal(start) {
				continue
			}
		}
		e.startMaintenance(def, start, end, now)
	}
	e.apiWindows(now, active)
	for _, wid := range sortedKeys(e.s.Maint) {
		iid := e.s.Maint[wid]
		inc := e.s.Incidents[iid]
		if inc != nil && active[wid] && inc.Maintenance.ScheduledUntil.After(now) {
			continue
		}
		delete(e.s.Maint, wid)
		if inc != nil && inc.Open() {
			inc.end(MaintCompleted, now)
			u := e.addUpdate(inc, MaintCompleted, "The scheduled maintenance has been completed.", "", now, nil)
			e.emit(Event{Type: MaintenanceCompleted, At: now, Incident: inc, Update: &u})
		}
	}
}

func (e *Engine) startMaintenance(def MaintenanceDef, start, end, now time.Time) {
	if old, ok := e.s.Maint[def.ID]; ok { // a previous occurrence still open
		if inc := e.s.Incidents[old]; inc != nil && inc.Open() {
			inc.end(MaintCompleted, now)
			u := e.addUpdate(inc, MaintCompleted, "The scheduled maintenance has been completed.", "", now, nil)
			e.emit(Event{Type: MaintenanceCompleted, At: now, Incident: inc, Update: &u})
		}
	}
	inc := e.newMaintenance(def.ID, def.Name, def.Components, MaintInProgress, start, end, now)
	// One identity for the occurrence's whole life: the id and creation
	// time it had while upcoming.
	inc.ID, inc.CreatedAt = OccurrenceID(def.ID, start), Published(e.s.Seen[def.ID], start)
	id := inc.ID
	body := def.Message
	if body == "" {
		body = "Scheduled maintenance is in progress."
	}
	e.s.Incidents[id] = inc
	e.s.Maint[def.ID] = id
	u := e.addUpdate(inc, MaintInProgress, body, "", now, nil)
	e.emit(Event{Type: MaintenanceStarted, At: now, Incident: inc, Update: &u})
}

// UpcomingHorizon is how far ahead the next occurrence of a configured
// window is published.
const UpcomingHorizon = 30 * 24 * time.Hour

// OccurrenceID is the id of a configured window's occurrence starting at
// start: the same while it is upcoming, running and completed.
func OccurrenceID(window string, start time.Time) string {
	return fmt.Sprintf("mnt-%s-%d", window, start.Unix())
}

// Published is when an occurrence starting at start was first shown as
// upcoming: when its window was first seen, or UpcomingHorizon before it.
func Published(seen, start time.Time) time.Time {
	if p := start.Add(-UpcomingHorizon); p.After(seen) {
		return p
	}
	return seen
}

// inMaintenance reports a component covered by an active window.
func (e *Engine) inMaintenance(id string) bool {
	for _, iid := range e.s.Maint {
		if inc := e.s.Incidents[iid]; inc != nil && inc.Open() && inc.affects(id) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}

// scheduleMaintenance creates an API window and its incident, "scheduled"
// until the window starts.
func (e *Engine) scheduleMaintenance(now time.Time, c Command) Reply {
	switch {
	case c.Name == "":
		return Reply{Err: "name is required"}
	case !c.End.After(c.Start):
		return Reply{Err: "end must be after start"}
	case !c.End.After(now):
		return Reply{Err: "the window is already over"}
	case len(c.Components) == 0:
		return Reply{Err: "at least one component is required"}
	}
	var comps []string
	for id := range c.Components {
		comps = append(comps, id)
	}
	inc := e.newMaintenance("", c.Name, comps, MaintScheduled, c.Start, c.End, now)
	id := inc.ID
	body := c.Body
	if body == "" {
		body = "Maintenance is scheduled."
	}
	e.s.Incidents[id] = inc
	e.s.Windows[id] = &Window{ID: id, IncidentID: id, Components: inc.Components, Start: c.Start.UTC(), End: c.End.UTC(), Message: c.Body}
	u := e.addUpdate(inc, MaintScheduled, body, c.Author, now, nil)
	e.emit(Event{Type: MaintenanceScheduled, At: now, Incident: inc, Update: &u})
	return Reply{IncidentID: id}
}

// cancelMaintenance withdraws an API window (before or during it).
func (e *Engine) cancelMaintenance(now time.Time, c Command) Reply {
	w, ok := e.s.Windows[c.IncidentID]
	if !ok {
		return Reply{IncidentID: c.IncidentID, Err: "no scheduled maintenance " + c.IncidentID}
	}
	delete(e.s.Windows, w.ID)
	delete(e.s.Maint, w.ID)
	if inc := e.s.Incidents[w.IncidentID]; inc != nil && inc.Open() {
		body := c.Body
		if body == "" {
			body = "This maintenance has been cancelled."
		}
		inc.end(MaintCancelled, now)
		u := e.addUpdate(inc, MaintCancelled, body, c.Author, now, nil)
		e.emit(Event{Type: MaintenanceCancelled, At: now, Incident: inc, Update: &u})
	}
	return Reply{IncidentID: w.IncidentID}
}

// apiWindows starts API windows whose time has come and completes those
// that have ended; active ones are marked in active (by window id).
func (e *Engine) apiWindows(now time.Time, active map[string]bool) {
	for _, id := range sortedKeys(e.s.Windows) {
		w := e.s.Windows[id]
		inc := e.s.Incidents[w.IncidentID]
		if inc == nil {
			delete(e.s.Windows, id)
			continue
		}
		switch {
		case !now.Before(w.End):
			delete(e.s.Windows, id) // completed below, via e.s.Maint, or here if it never started
			if inc.Status == MaintScheduled {
				inc.end(MaintCompleted, now)
				u := e.addUpdate(inc, MaintCompleted, "The scheduled maintenance has been completed.", "", now, nil)
				e.emit(Event{Type: MaintenanceCompleted, At: now, Incident: inc, Update: &u})
			}
		case !now.Before(w.Start):
			active[id] = true
			if inc.Status == MaintScheduled {
				inc.Status = MaintInProgress
				e.s.Maint[id] = inc.ID
				body := w.Message
				if body == "" {
					body = "Scheduled maintenance is in progress."
				}
				u := e.addUpdate(inc, MaintInProgress, body, "", now, nil)
				e.emit(Event{Type: MaintenanceStarted, At: now, Incident: inc, Update: &u})
			}
		}
	}
}

// updateMaintenance renames or re-times an API window: the start only
// before it begins, the end at any time before it is over.
func (e *Engine) updateMaintenance(now time.Time, c Command) Reply {
	w, ok := e.s.Windows[c.IncidentID]
	if !ok {
		return Reply{IncidentID: c.IncidentID, Err: "no scheduled maintenance " + c.IncidentID}
	}
	inc := e.s.Incidents[w.IncidentID]
	start, end := w.Start, w.End
	if !c.Start.IsZero() {
		if inc.Status != MaintScheduled {
			return Reply{IncidentID: inc.ID, Err: "the window has started: only its end can change"}
		}
		start = c.Start.UTC()
	}
	if !c.End.IsZero() {
		end = c.End.UTC()
	}
	switch {
	case !end.After(start):
		return Reply{IncidentID: inc.ID, Err: "end must be after start"}
	case !end.After(now):
		return Reply{IncidentID: inc.ID, Err: "end must be in the future"}
	}
	w.Start, w.End = start, end
	inc.StartedAt = start
	inc.Maintenance.ScheduledFor, inc.Maintenance.ScheduledUntil = start, end
	if c.Name != "" {
		inc.Name = c.Name
	}
	body := c.Body
	if body == "" {
		body = fmt.Sprintf("The maintenance window is now %s to %s.", e.clock(start), e.clock(end))
	}
	u := e.addUpdate(inc, inc.Status, body, c.Author, now, nil)
	typ := IncidentUpdated
	if inc.Status == MaintScheduled {
		typ = MaintenanceScheduled // re-announced with its new time
	}
	e.emit(Event{Type: typ, At: now, Incident: inc, Update: &u})
	return Reply{IncidentID: inc.ID}
}

// newMaintenance makes a maintenance incident for a window (windowID "":
// the window is the incident itself, made through the API).
func (e *Engine) newMaintenance(windowID, name string, components []string, st IncidentStatus, start, end, now time.Time) *Incident {
	id, seq := e.nextID("mnt-")
	if windowID == "" {
		windowID = id
	}
	inc := &Incident{ID: id, Seq: seq, Name: name, Status: st, Impact: ImpactMaintenance,
		Components: e.inPageOrder(components), ComponentStatus: map[string]ComponentStatus{},
		CreatedAt: now, UpdatedAt: now, StartedAt: start,
		Maintenance: &MaintenanceInfo{WindowID: windowID, ScheduledFor: start.UTC(), ScheduledUntil: end.UTC()}}
	for _, c := range inc.Components {
		inc.ComponentStatus[c] = UnderMaintenance
	}
	return inc
}
