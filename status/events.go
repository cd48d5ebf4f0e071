package status

import (
	"encoding/json"
	"time"

	"github.com/outpost-status/outpost/probes"
)

// Event is one announcement-worthy change. Its ID is stable, so deliveries
// of the same event can be de-duplicated by receivers.
type Event struct {
	ID        string          `json:"id"`
	Seq       uint64          `json:"seq"`
	Type      EventType       `json:"type"`
	At        time.Time       `json:"at"`
	Incident  *Incident       `json:"incident,omitempty"`
	Update    *Update         `json:"update,omitempty"` // the update this event announces
	Component *ComponentEvent `json:"component,omitempty"`
	// Text is the message for monitor.* events (operators only).
	Text string `json:"text,omitempty"`
	// Private holds operator-only details: check names, targets, raw
	// errors. Public channels and surfaces must never show it.
	Private *Private `json:"private,omitempty"`
	// Data is the public payload's data object (Statuspage's {page,
	// incident} or {page, component, component_update}), built from the
	// page as the step that produced the event left it, and stored with
	// the event: a delivery made later, after more changes, on another
	// node, still describes that step. Empty for operators' events.
	Data json.RawMessage `json:"data,omitempty"`
}

// ComponentEvent describes a component status change.
type ComponentEvent struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	OldStatus ComponentStatus `json:"old_status,omitempty"` // none when it had no data before
	NewStatus ComponentStatus `json:"new_status"`
}

// Private carries the failing checks behind an event.
type Private struct {
	Checks []CheckDetail `json:"checks"`
}

// CheckDetail is one check's last result, for operators.
type CheckDetail struct {
	Name      string         `json:"name"`
	Component string         `json:"component"`
	Location  string         `json:"location,omitempty"` // in a cluster, where it ran
	Status    CheckStatus    `json:"status"`
	Outcome   probes.Outcome `json:"outcome"`
	Reason    probes.Reason  `json:"reason"`
	Message   string         `json:"message,omitempty"`
	At        time.Time      `json:"at"`
}

// ComponentIDs are the components an event concerns: its incident's, or
// the one that changed; none for monitor-wide events.
func (ev Event) ComponentIDs() []string {
	switch {
	case ev.Incident != nil:
		return ev.Incident.Components
	case ev.Component != nil:
		return []string{ev.Component.ID}
	}
	return nil
}

// emit stamps an event with the next id and appends it to the step.
func (e *Engine) emit(ev Event) {
	ev.ID, ev.Seq = e.nextID("evt-")
	if inc := ev.Incident; inc != nil && inc.FirstEvent == "" {
		// The incident's own copy (and the step's) learns it too, so every
		// later event of the incident carries the thread's first id.
		inc.FirstEvent = ev.ID
		e.ch.Incidents = appendIncident(e.ch.Incidents, inc)
	}
	if ev.Incident != nil {
		ev.Incident = ev.Incident.Clone()
	}
	e.ch.Events = append(e.ch.Events, ev)
}

// privateFor lists the not-up checks of the given components.
func (e *Engine) privateFor(components []string) *Private {
	p := &Private{}
	for _, id := range components {
		for _, c := range e.m.checksOf(id) {
			cs := e.s.Checks[c.Name]
			if cs == nil || (cs.Status == CheckUp && cs.LastOutcome == probes.Up) {
				continue
			}
			p.Checks = append(p.Checks, CheckDetail{Name: c.Name, Component: id, Status: cs.Status,
				Outcome: cs.LastOutcome, Reason: cs.LastReason, Message: cs.LastMessage, At: cs.LastAt})
		}
	}
	if len(p.Checks) == 0 {
		return nil
	}
	return p
}

// Clone deep-copies an incident so published and persisted copies never
// share memory with the engine's.
func (i *Incident) Clone() *Incident {
	c := *i
	c.Components = append([]string(nil), i.Components...)
	c.ComponentStatus = make(map[string]ComponentStatus, len(i.ComponentStatus))
	for k, v := range i.ComponentStatus {
		c.ComponentStatus[k] = v
	}
	c.Updates = make([]Update, len(i.Updates))
	for j, u := range i.Updates {
		u.Affected = append([]ComponentChange(nil), u.Affected...)
		c.Updates[j] = u
	}
	if i.Maintenance != nil {
		m := *i.Maintenance
		c.Maintenance = &m
	}
	return &c
}
