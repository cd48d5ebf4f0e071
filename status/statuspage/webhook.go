package statuspage

import (
	"fmt"

	"github.com/outpost-status/outpost/status"
)

// WebhookPage is the page object of Statuspage's webhooks.
type WebhookPage struct {
	ID                string        `json:"id"`
	StatusIndicator   status.Impact `json:"status_indicator"`
	StatusDescription string        `json:"status_description"`
}

// ComponentUpdate is a component event's change, as Statuspage sends it.
type ComponentUpdate struct {
	ID          string                  `json:"id"`
	ComponentID string                  `json:"component_id"`
	Type        string                  `json:"component_type"` // always "Component", as Statuspage sends
	OldStatus   *status.ComponentStatus `json:"old_status"`     // null: it had no data before, as in an update's affected component
	NewStatus   status.ComponentStatus  `json:"new_status"`
	CreatedAt   string                  `json:"created_at"`
}

// WebhookData is an event's data object in the shape of Statuspage's own
// webhooks: the page, then the incident, or the component and its update,
// as /api/v2 shows them. v is the view of the snapshot of the step that
// produced the event, so the payload describes that step however late it
// is sent.
func (v *View) WebhookData(ev status.Event) (any, error) {
	page := WebhookPage{ID: v.page.ID, StatusIndicator: v.snap.Indicator, StatusDescription: v.snap.Description}
	switch {
	case ev.Incident != nil:
		return map[string]any{"page": page, "incident": v.Incident(ev.Incident)}, nil
	case ev.Component != nil:
		c := Component{ID: ev.Component.ID, Name: ev.Component.Name, PageID: v.page.ID, Showcase: true}
		if i, ok := v.comps[ev.Component.ID]; ok {
			c = v.list[i]
		}
		c.Status, c.UpdatedAt = ev.Component.NewStatus, v.ts(ev.At)
		return map[string]any{"page": page, "component": c, "component_update": ComponentUpdate{ID: ev.ID, ComponentID: ev.Component.ID, Type: "Component",
			OldStatus: nullableStatus(ev.Component.OldStatus), NewStatus: ev.Component.NewStatus, CreatedAt: v.ts(ev.At)}}, nil
	}
	return nil, fmt.Errorf("event %s (%s) has no incident or component", ev.ID, ev.Type)
}

// EventOnly is the view for an event stored without its data by an
// Outpost before this one: the page status is what the event itself says
// (its incident's impact, or its component's new status), and components
// are only those the event names.
func EventOnly(site Site, ev status.Event) *View {
	snap := &status.Snapshot{GeneratedAt: ev.At, Indicator: status.ImpactNone}
	switch {
	case ev.Incident != nil:
		snap.Indicator = ev.Incident.Impact
	case ev.Component != nil:
		snap.Indicator = status.ImpactOf(ev.Component.NewStatus)
	}
	snap.Description = snap.Indicator.Description()
	return New(site, snap)
}
