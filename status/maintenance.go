package status

import (
	"time"
)

// maintenance starts and completes configured windows. An active window is
// a maintenance incident; its components show under_maintenance and open
// no automatic incident.
func (e *Engine) maintenance(now time.Time) {
	active := map[string]bool{}
	for _, def := range e.m.Maintenance {
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
	for _, wid := range sortedKeys(e.s.Maint) {
		iid := e.s.Maint[wid]
		inc := e.s.Incidents[iid]
		if inc != nil && active[wid] && inc.Maintenance.ScheduledUntil.After(now) {
			continue
		}
		delete(e.s.Maint, wid)
		if inc != nil && inc.Open() {
			inc.Status, inc.ResolvedAt = MaintCompleted, now
			u := e.addUpdate(inc, MaintCompleted, "The scheduled maintenance has been completed.", "", now, nil)
			e.emit(Event{Type: MaintenanceCompleted, At: now, Incident: inc, Update: &u})
		}
	}
}

func (e *Engine) startMaintenance(def MaintenanceDef, start, end, now time.Time) {
	if old, ok := e.s.Maint[def.ID]; ok { // a previous occurrence still open
		if inc := e.s.Incidents[old]; inc != nil && inc.Open() {
			inc.Status, inc.ResolvedAt = MaintCompleted, now
			u := e.addUpdate(inc, MaintCompleted, "The scheduled maintenance has been completed.", "", now, nil)
			e.emit(Event{Type: MaintenanceCompleted, At: now, Incident: inc, Update: &u})
		}
	}
	id, seq := e.nextID("mnt-")
	inc := &Incident{ID: id, Seq: seq, Name: def.Name, Status: MaintInProgress, Impact: ImpactMaintenance,
		Components: e.inPageOrder(def.Components), ComponentStatus: map[string]ComponentStatus{},
		CreatedAt: now, UpdatedAt: now, StartedAt: start,
		Maintenance: &MaintenanceInfo{WindowID: def.ID, ScheduledFor: start, ScheduledUntil: end}}
	for _, c := range inc.Components {
		inc.ComponentStatus[c] = UnderMaintenance
	}
	body := def.Message
	if body == "" {
		body = "Scheduled maintenance is in progress."
	}
	e.s.Incidents[id] = inc
	e.s.Maint[def.ID] = id
	u := e.addUpdate(inc, MaintInProgress, body, "", now, nil)
	e.emit(Event{Type: MaintenanceStarted, At: now, Incident: inc, Update: &u})
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
