package status

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CommandKind names a human action.
type CommandKind string

// Human actions the engine accepts (from the admin API).
const (
	CreateIncident      CommandKind = "create_incident"
	UpdateIncident      CommandKind = "update_incident"
	ScheduleMaintenance CommandKind = "schedule_maintenance"
	CancelMaintenance   CommandKind = "cancel_maintenance"
	UpdateMaintenance   CommandKind = "update_maintenance"
	EditUpdate          CommandKind = "edit_update"
	DeleteUpdate        CommandKind = "delete_update"
	AddPostmortem       CommandKind = "add_postmortem"
)

// Command is a person's action, applied in order within a batch.
type Command struct {
	Kind       CommandKind    `json:"kind"`
	IncidentID string         `json:"incident_id,omitempty"` // for UpdateIncident
	Name       string         `json:"name,omitempty"`        // for CreateIncident (or a rename)
	Status     IncidentStatus `json:"status,omitempty"`
	Impact     Impact         `json:"impact,omitempty"` // optional override
	Body       string         `json:"body,omitempty"`
	// Components sets component statuses by hand; "operational" clears a
	// manual status and lets the checks decide again.
	Components map[string]ComponentStatus `json:"components,omitempty"`
	Author     string                     `json:"author,omitempty"` // the admin token's name
	// Maintenance: the window (ScheduleMaintenance) and its components
	// (Components' keys; the statuses are ignored).
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	// UpdateID names the timeline entry for EditUpdate and DeleteUpdate.
	UpdateID string `json:"update_id,omitempty"`
	// Loaded is the incident as stored, for incidents the engine no longer
	// keeps (closed long ago): an input, so the step stays deterministic.
	Loaded *Incident `json:"loaded,omitempty"`
}

// Reply is a command's outcome.
type Reply struct {
	IncidentID string `json:"incident_id,omitempty"`
	Err        string `json:"error,omitempty"`
}

func (e *Engine) command(now time.Time, c Command) Reply {
	for id, s := range c.Components {
		if _, ok := e.m.component(id); !ok {
			return Reply{Err: fmt.Sprintf("unknown component %q", id)}
		}
		if c.Kind != ScheduleMaintenance && s.severity() == 0 && s != Operational {
			return Reply{Err: fmt.Sprintf("unknown component status %q", s)}
		}
	}
	if c.Status != "" && !c.Status.Valid() {
		return Reply{Err: fmt.Sprintf("unknown incident status %q", c.Status)}
	}
	switch c.Kind {
	case CreateIncident:
		return e.createIncident(now, c)
	case ScheduleMaintenance:
		return e.scheduleMaintenance(now, c)
	case CancelMaintenance:
		return e.cancelMaintenance(now, c)
	case UpdateMaintenance:
		return e.updateMaintenance(now, c)
	case EditUpdate, DeleteUpdate:
		return e.editUpdate(now, c)
	case AddPostmortem:
		return e.addPostmortem(now, c)
	case UpdateIncident:
		inc, ok := e.s.Incidents[c.IncidentID]
		if !ok || !inc.Open() {
			return Reply{IncidentID: c.IncidentID, Err: "no open incident " + c.IncidentID}
		}
		e.updateIncident(now, inc, c)
		return Reply{IncidentID: inc.ID}
	}
	return Reply{Err: fmt.Sprintf("unknown command %q", c.Kind)}
}

func (e *Engine) createIncident(now time.Time, c Command) Reply {
	if c.Name == "" {
		return Reply{Err: "name is required"}
	}
	status := c.Status
	if status == "" {
		status = Investigating
	}
	id, seq := e.nextID("inc-")
	inc := &Incident{ID: id, Seq: seq, Name: c.Name, Status: status, CreatedAt: now, UpdatedAt: now, StartedAt: now,
		ComponentStatus: map[string]ComponentStatus{}}
	changes := e.setManual(inc, c.Components)
	inc.Impact = c.Impact
	if inc.Impact == "" {
		e.rescore(inc)
		if inc.Impact == "" {
			inc.Impact = ImpactNone
		}
	}
	e.s.Incidents[id] = inc
	u := e.addUpdate(inc, status, c.Body, c.Author, now, changes)
	e.emit(Event{Type: IncidentCreated, At: now, Incident: inc, Update: &u})
	if status.Closed() {
		e.humanResolve(inc, now)
	}
	return Reply{IncidentID: id}
}

func (e *Engine) updateIncident(now time.Time, inc *Incident, c Command) {
	if c.Name != "" {
		inc.Name = c.Name
	}
	if c.Impact != "" {
		inc.Impact = c.Impact
	}
	status := c.Status
	if status == "" {
		status = inc.Status
	}
	if c.Body == "" && status == inc.Status && len(c.Components) == 0 {
		// A rename or impact change: no new timeline entry.
		inc.UpdatedAt = now
		e.ch.Incidents = appendIncident(e.ch.Incidents, inc)
		e.emit(Event{Type: IncidentUpdated, At: now, Incident: inc})
		return
	}
	changes := e.setManual(inc, c.Components)
	if status.Closed() {
		inc.end(status, now)
		u := e.addUpdate(inc, status, c.Body, c.Author, now, changes)
		e.humanResolve(inc, now)
		e.emit(Event{Type: IncidentResolved, At: now, Incident: inc, Update: &u})
		return
	}
	inc.Status = status
	u := e.addUpdate(inc, status, c.Body, c.Author, now, changes)
	e.emit(Event{Type: IncidentUpdated, At: now, Incident: inc, Update: &u})
}

// humanResolve clears manual statuses and, for components whose checks
// still fail, suppresses automatic incidents until they recover: the person
// knows better than the probe, until the probe agrees again.
func (e *Engine) humanResolve(inc *Incident, now time.Time) {
	if inc.ResolvedAt.IsZero() {
		inc.ResolvedAt = now
	}
	for _, id := range inc.Components {
		st := e.s.Components[id]
		if st == nil {
			continue
		}
		st.Manual = ""
		if e.autoStatus(id).IsOutage() {
			st.Suppressed = true
		}
		e.ch.Components = append(e.ch.Components, id)
	}
}

// setManual applies hand-set component statuses and returns the changes.
func (e *Engine) setManual(inc *Incident, set map[string]ComponentStatus) []ComponentChange {
	var out []ComponentChange
	for _, def := range e.m.Components { // page order, for determinism
		s, ok := set[def.ID]
		if !ok {
			continue
		}
		st := e.s.Components[def.ID]
		old := st.Status
		if st.NoData { // a person's word on a component without data: it had no status
			old = ""
		}
		if s == Operational {
			st.Manual = ""
		} else {
			st.Manual = s
		}
		if !inc.affects(def.ID) {
			inc.Components = e.inPageOrder(append(inc.Components, def.ID))
		}
		inc.ComponentStatus[def.ID] = Worst(inc.ComponentStatus[def.ID], s)
		out = append(out, ComponentChange{Code: def.ID, Name: def.Name, OldStatus: old, NewStatus: s})
		e.ch.Components = append(e.ch.Components, def.ID)
	}
	return out
}

// describe summarises a command for the audit log.
func (c Command) describe() string {
	var parts []string
	if c.Name != "" {
		parts = append(parts, "name="+strconv.Quote(c.Name))
	}
	if c.Status != "" {
		parts = append(parts, "status="+string(c.Status))
	}
	if c.Impact != "" {
		parts = append(parts, "impact="+string(c.Impact))
	}
	for _, id := range sortedKeys(c.Components) {
		parts = append(parts, "component "+id+"="+string(c.Components[id]))
	}
	if !c.Start.IsZero() {
		parts = append(parts, "window="+c.Start.UTC().Format(time.RFC3339)+"/"+c.End.UTC().Format(time.RFC3339))
	}
	if c.Body != "" {
		b := []rune(c.Body)
		if len(b) > 200 {
			b = append(b[:200], '…')
		}
		parts = append(parts, "message="+strconv.Quote(string(b)))
	}
	return strings.Join(parts, " ")
}

// findIncident returns an incident from state or, for one the engine no
// longer keeps, the stored copy the command carries.
func (e *Engine) findIncident(c Command) (*Incident, bool) {
	if inc, ok := e.s.Incidents[c.IncidentID]; ok {
		return inc, true
	}
	if c.Loaded != nil && c.Loaded.ID == c.IncidentID {
		inc := c.Loaded.Clone()
		e.s.Incidents[inc.ID] = inc // pruned again once persisted
		return inc, true
	}
	return nil, false
}

// editUpdate corrects or removes a timeline entry's text; it is not a new
// announcement, so it emits incident.updated without an update.
func (e *Engine) editUpdate(now time.Time, c Command) Reply {
	inc, ok := e.findIncident(c)
	if !ok {
		return Reply{IncidentID: c.IncidentID, Err: "no incident " + c.IncidentID}
	}
	for i, u := range inc.Updates {
		if u.ID != c.UpdateID {
			continue
		}
		if c.Kind == DeleteUpdate {
			if len(inc.Updates) == 1 {
				return Reply{IncidentID: inc.ID, Err: "an incident keeps at least one update"}
			}
			inc.Updates = append(inc.Updates[:i:i], inc.Updates[i+1:]...)
		} else {
			if c.Body == "" {
				return Reply{IncidentID: inc.ID, Err: "message is required"}
			}
			inc.Updates[i].Body, inc.Updates[i].UpdatedAt = c.Body, now
		}
		inc.UpdatedAt = now
		e.ch.Incidents = appendIncident(e.ch.Incidents, inc)
		e.emit(Event{Type: IncidentUpdated, At: now, Incident: inc})
		return Reply{IncidentID: inc.ID}
	}
	return Reply{IncidentID: inc.ID, Err: "no update " + c.UpdateID + " in " + inc.ID}
}

// addPostmortem attaches a write-up to a closed incident.
func (e *Engine) addPostmortem(now time.Time, c Command) Reply {
	inc, ok := e.findIncident(c)
	switch {
	case !ok:
		return Reply{IncidentID: c.IncidentID, Err: "no incident " + c.IncidentID}
	case inc.Open():
		return Reply{IncidentID: inc.ID, Err: "resolve the incident before adding a postmortem"}
	case c.Body == "":
		return Reply{IncidentID: inc.ID, Err: "the postmortem body is required"}
	}
	inc.Postmortem, inc.Status = c.Body, Postmortem
	u := e.addUpdate(inc, Postmortem, "A postmortem has been published.", c.Author, now, nil)
	e.emit(Event{Type: IncidentUpdated, At: now, Incident: inc, Update: &u})
	return Reply{IncidentID: inc.ID}
}
