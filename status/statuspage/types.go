// Package statuspage is Outpost's public representation: Atlassian
// Statuspage's v2 objects and Statuspage-style webhook payloads, as pure
// functions of the site and a snapshot (and an event). No I/O: the web
// server, the webhook deliveries and the static export build the same
// bytes from it, and a payload built from its own step's snapshot is the
// same whenever, and wherever, it is built.
package statuspage

import (
	"time"

	"github.com/outpost-status/outpost/status"
)

// Site is what the representation needs of the site's configuration.
type Site struct {
	ID, Name, URL, TimeZone string
	Location                *time.Location
}

// Atlassian Statuspage's public v2 API, field for field, so aggregators
// and bots work unchanged. Outpost's own additions are prefixed "outpost_"
// and documented in docs/api.md.

// Page is the page object.
type Page struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	URL      string `json:"url"`
	TimeZone string `json:"time_zone"`
	Updated  string `json:"updated_at"`
}

// Status is the page's overall indicator.
type Status struct {
	Indicator   status.Impact `json:"indicator"`
	Description string        `json:"description"`
}

// Component is a component (or a group of them).
type Component struct {
	ID                 string                 `json:"id"`
	Name               string                 `json:"name"`
	Status             status.ComponentStatus `json:"status"`
	CreatedAt          string                 `json:"created_at"`
	UpdatedAt          string                 `json:"updated_at"`
	Position           int                    `json:"position"`
	Description        *string                `json:"description"`
	Showcase           bool                   `json:"showcase"`
	StartDate          *string                `json:"start_date"`
	GroupID            *string                `json:"group_id"`
	PageID             string                 `json:"page_id"`
	Group              bool                   `json:"group"`
	OnlyShowIfDegraded bool                   `json:"only_show_if_degraded"`
	Components         []string               `json:"components,omitempty"` // groups only
	// OutpostStale: no recent data; status is the last known one.
	OutpostStale bool `json:"outpost_stale"`
}

// Update is an incident update.
type Update struct {
	ID                   string                `json:"id"`
	Status               status.IncidentStatus `json:"status"`
	Body                 string                `json:"body"`
	IncidentID           string                `json:"incident_id"`
	CreatedAt            string                `json:"created_at"`
	UpdatedAt            string                `json:"updated_at"`
	DisplayAt            string                `json:"display_at"`
	AffectedComponents   []Affected            `json:"affected_components"`
	DeliverNotifications bool                  `json:"deliver_notifications"`
	CustomTweet          *string               `json:"custom_tweet"`
	TweetID              *string               `json:"tweet_id"`
}

// Affected is a component an update changed. OldStatus is null when the
// component had no status before (no data yet): none would be true.
type Affected struct {
	Code      string                  `json:"code"`
	Name      string                  `json:"name"`
	OldStatus *status.ComponentStatus `json:"old_status"`
	NewStatus status.ComponentStatus  `json:"new_status"`
}

func nullableStatus(s status.ComponentStatus) *status.ComponentStatus {
	if s == "" {
		return nil
	}
	return &s
}

// Incident is an incident or a scheduled maintenance.
type Incident struct {
	ID              string                `json:"id"`
	Name            string                `json:"name"`
	Status          status.IncidentStatus `json:"status"`
	CreatedAt       string                `json:"created_at"`
	UpdatedAt       string                `json:"updated_at"`
	MonitoringAt    *string               `json:"monitoring_at"`
	ResolvedAt      *string               `json:"resolved_at"`
	Impact          status.Impact         `json:"impact"`
	Shortlink       string                `json:"shortlink"`
	StartedAt       *string               `json:"started_at"` // null until a window starts
	PageID          string                `json:"page_id"`
	IncidentUpdates []Update              `json:"incident_updates"`
	Components      []Component           `json:"components"`
	ScheduledFor    *string               `json:"scheduled_for,omitempty"`
	ScheduledUntil  *string               `json:"scheduled_until,omitempty"`
	// OutpostCancelled: a maintenance withdrawn before or while it ran.
	// Statuspage's enum has no "cancelled", so status reads "completed".
	OutpostCancelled bool `json:"outpost_cancelled,omitempty"`
}

// incidentStatus keeps statuses inside Statuspage's enum.
func incidentStatus(s status.IncidentStatus) status.IncidentStatus {
	if s == status.MaintCancelled {
		return status.MaintCompleted
	}
	return s
}
