package statuspage

import (
	"encoding/json"
	"fmt"
)

// Statuspage's own webhook body, for subscribers who chose format:
// statuspage. Outpost's default delivery nests the data object under
// "data" in a Standard Webhooks envelope; Statuspage's consumers read
// page, incident or component and component_update, and meta at the top
// level, and its incident carries fields /api/v2 does not show
// (postmortem and scheduling flags, Twitter fields on each update). The
// data object is the one stored with the event; the subscriber's meta is
// added at send time, so the event's body is still stored once.

// Meta is the subscriber's part of a body: its capability unsubscribe URL
// and where the body is documented.
type Meta struct {
	Unsubscribe   string `json:"unsubscribe"`
	Documentation string `json:"documentation"`
}

// spIncident is an incident as Statuspage's webhooks send it: the /api/v2
// incident and the fields only webhooks carry. Outpost has no Twitter
// integration, impact override or postmortem notification flags, so
// those read as Statuspage's defaults; scheduled_for/until are null for a
// plain incident, as in Statuspage's example.
type spIncident struct {
	Incident
	Backfilled                    bool       `json:"backfilled"`
	ImpactOverride                *string    `json:"impact_override"`
	PostmortemBody                *string    `json:"postmortem_body"`
	PostmortemBodyLastUpdatedAt   *string    `json:"postmortem_body_last_updated_at"`
	PostmortemIgnored             bool       `json:"postmortem_ignored"`
	PostmortemNotifiedSubscribers bool       `json:"postmortem_notified_subscribers"`
	PostmortemNotifiedTwitter     bool       `json:"postmortem_notified_twitter"`
	PostmortemPublishedAt         *string    `json:"postmortem_published_at"`
	ScheduledAutoTransition       bool       `json:"scheduled_auto_transition"`
	ScheduledFor                  *string    `json:"scheduled_for"`
	ScheduledUntil                *string    `json:"scheduled_until"`
	ScheduledRemindPrior          bool       `json:"scheduled_remind_prior"`
	ScheduledRemindedAt           *string    `json:"scheduled_reminded_at"`
	OrganizationID                string     `json:"organization_id"`
	IncidentUpdates               []spUpdate `json:"incident_updates"`
}

// spUpdate is an incident update as Statuspage's webhooks send it.
type spUpdate struct {
	Update
	TwitterUpdatedAt   *string `json:"twitter_updated_at"`
	WantsTwitterUpdate bool    `json:"wants_twitter_update"`
}

// stored is the data object as the step stored it (WebhookData).
type stored struct {
	Page            WebhookPage      `json:"page"`
	Incident        *Incident        `json:"incident"`
	Component       *Component       `json:"component"`
	ComponentUpdate *ComponentUpdate `json:"component_update"`
}

// spBody is Statuspage's body, in its key order.
type spBody struct {
	Meta            Meta             `json:"meta"`
	Page            WebhookPage      `json:"page"`
	Incident        *spIncident      `json:"incident,omitempty"`
	ComponentUpdate *ComponentUpdate `json:"component_update,omitempty"`
	Component       *Component       `json:"component,omitempty"`
}

// StatuspageBody is Statuspage's webhook body for an event's stored data
// object and one subscriber's meta.
func StatuspageBody(data []byte, meta Meta) ([]byte, error) {
	var d stored
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("stored webhook data: %w", err)
	}
	out := spBody{Meta: meta, Page: d.Page, Component: d.Component, ComponentUpdate: d.ComponentUpdate}
	switch {
	case d.Incident != nil:
		inc := d.Incident
		sp := &spIncident{Incident: *inc, ScheduledFor: inc.ScheduledFor, ScheduledUntil: inc.ScheduledUntil, OrganizationID: d.Page.ID,
			IncidentUpdates: make([]spUpdate, len(inc.IncidentUpdates))}
		for i, u := range inc.IncidentUpdates {
			sp.IncidentUpdates[i] = spUpdate{Update: u}
		}
		out.Incident = sp
	case d.Component == nil || d.ComponentUpdate == nil:
		return nil, fmt.Errorf("stored webhook data has neither an incident nor a component update")
	}
	return json.Marshal(out)
}
