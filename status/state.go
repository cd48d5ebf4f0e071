package status

import (
	"time"

	"github.com/outpost-status/outpost/probes"
)

// CheckStatus is a check's confirmed state.
type CheckStatus string

// Check states. Unknown until the first confirmed result.
const (
	CheckUnknown  CheckStatus = "unknown"
	CheckUp       CheckStatus = "up"
	CheckDegraded CheckStatus = "degraded"
	CheckDown     CheckStatus = "down"
)

// CheckState is a check's durable state: confirmed status and the
// consecutive counters that move it.
type CheckState struct {
	Status CheckStatus `json:"status"`
	Since  time.Time   `json:"since"`
	// Consecutive runs: Down results; not-Up results; Up results; not-Down.
	Fails   int `json:"fails"`
	NotUp   int `json:"not_up"`
	Oks     int `json:"oks"`
	NotDown int `json:"not_down"`

	LastAt      time.Time      `json:"last_at"`
	LastOutcome probes.Outcome `json:"last_outcome"`
	LastReason  probes.Reason  `json:"last_reason"`
	LastMessage string         `json:"last_message,omitempty"`
	LastLatency time.Duration  `json:"last_latency"`

	// In a cluster's vote (vote.go): each location's own state, by
	// location; the open confirmation round; the locations it fails from
	// while its voted status is up; and whether operators were told its
	// verdict cannot be confirmed.
	Regions     map[string]*CheckState `json:"regions,omitempty"`
	Round       *Round                 `json:"round,omitempty"`
	Regional    []string               `json:"regional,omitempty"`
	Unconfirmed bool                   `json:"unconfirmed,omitempty"`
}

// ComponentState is a component's durable state.
type ComponentState struct {
	Status ComponentStatus `json:"status"`
	Since  time.Time       `json:"since"`
	// Previous is the status before Status, for the old_status of an
	// incident update about the change.
	Previous ComponentStatus `json:"previous,omitempty"`
	// NoData: none of its status checks has confirmed a status yet, so
	// Status (operational) claims nothing. PreviousNoData: it had no data
	// before Status, so an update about the change has no old status.
	NoData         bool `json:"no_data,omitempty"`
	PreviousNoData bool `json:"previous_no_data,omitempty"`
	// Suppressed: a person resolved this component's incident while its
	// checks still fail; no automatic incident until they recover.
	Suppressed bool `json:"suppressed,omitempty"`
	// Manual is a status a person set through an incident; it wins over the
	// checks until cleared (set back to operational or incident resolved).
	Manual ComponentStatus `json:"manual,omitempty"`
	// AccountedAt is up to when status time has been rolled up.
	AccountedAt time.Time `json:"accounted_at"`
	// CreatedAt is when the component first appeared (API created_at).
	CreatedAt time.Time `json:"created_at"`
}

// Incident is a public incident with its timeline.
type Incident struct {
	ID         string         `json:"id"`
	Seq        uint64         `json:"seq"`
	Name       string         `json:"name"`
	Status     IncidentStatus `json:"status"`
	Impact     Impact         `json:"impact"`
	Auto       bool           `json:"auto"`
	Components []string       `json:"components"` // affected, in page order
	// Worst status each component reached during the incident.
	ComponentStatus map[string]ComponentStatus `json:"component_status"`
	CreatedAt       time.Time                  `json:"created_at"`
	UpdatedAt       time.Time                  `json:"updated_at"`
	StartedAt       time.Time                  `json:"started_at"`
	MonitoringAt    time.Time                  `json:"monitoring_at,omitzero"`
	ResolvedAt      time.Time                  `json:"resolved_at,omitzero"`
	// Outage sums the outage periods already ended; the time a reopened
	// incident stood resolved is not in it.
	Outage time.Duration `json:"outage,omitempty"`
	// PeriodFrom is when the current (or last) period began: StartedAt, or
	// the latest reopening.
	PeriodFrom time.Time `json:"period_from,omitzero"`
	Updates    []Update  `json:"updates"` // oldest first
	// Postmortem is a person's write-up, in Markdown (rendered safely).
	Postmortem string `json:"postmortem,omitempty"`
	// Maintenance marks a scheduled maintenance presented as an incident.
	Maintenance *MaintenanceInfo `json:"maintenance,omitempty"`
	// FirstEvent is the id of the first event announced for the incident:
	// every later mail to a subscriber answers that event's mail, and event
	// ids (unlike a store sequence) never repeat after a restore. Empty for
	// incidents older than the field until their next event.
	FirstEvent string `json:"first_event,omitempty"`
}

// MaintenanceInfo is what a maintenance incident adds.
type MaintenanceInfo struct {
	WindowID       string    `json:"window_id"`
	ScheduledFor   time.Time `json:"scheduled_for"`
	ScheduledUntil time.Time `json:"scheduled_until"`
}

// Update is one entry in an incident's timeline.
type Update struct {
	ID        string            `json:"id"`
	Status    IncidentStatus    `json:"status"`
	Body      string            `json:"body"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	DisplayAt time.Time         `json:"display_at"`
	Author    string            `json:"author,omitempty"` // token name; empty for automatic
	Affected  []ComponentChange `json:"affected_components,omitempty"`
}

// ComponentChange records a component's status change in an update.
type ComponentChange struct {
	Code      string          `json:"code"`
	Name      string          `json:"name"`
	OldStatus ComponentStatus `json:"old_status,omitempty"` // none: it had no data before
	NewStatus ComponentStatus `json:"new_status"`
}

// Open reports an incident that is not closed.
func (i *Incident) Open() bool { return !i.Status.Closed() }

// Downtime is the time the incident spent in outage up to now: the sum of
// its periods from opening (or reopening) to resolution, not the span from
// its start to its end.
func (i *Incident) Downtime(now time.Time) time.Duration {
	if i.PeriodFrom.IsZero() { // written before periods were kept
		if i.Open() {
			return now.Sub(i.StartedAt)
		}
		return i.ResolvedAt.Sub(i.StartedAt)
	}
	if i.Open() {
		return i.Outage + now.Sub(i.PeriodFrom)
	}
	return i.Outage
}

// end closes the incident with status s at now, ending its current period
// (once: a resolved incident given a postmortem does not count again).
func (i *Incident) end(s IncidentStatus, now time.Time) {
	if i.Open() && !i.PeriodFrom.IsZero() {
		i.Outage += now.Sub(i.PeriodFrom)
	}
	i.Status, i.ResolvedAt = s, now
}

// Latest returns the newest update.
func (i *Incident) Latest() Update {
	if len(i.Updates) == 0 {
		return Update{}
	}
	return i.Updates[len(i.Updates)-1]
}

func (i *Incident) affects(id string) bool {
	for _, c := range i.Components {
		if c == id {
			return true
		}
	}
	return false
}

// State is everything the engine keeps between batches. The store persists
// it piecewise (only what changed) and loads it at start.
type State struct {
	Seq        uint64                     `json:"seq"` // last id handed out
	Checks     map[string]*CheckState     `json:"checks"`
	Components map[string]*ComponentState `json:"components"`
	// Incidents holds open incidents and those closed within the reopen
	// window (flap guard); older closed ones live only in the store.
	Incidents map[string]*Incident `json:"incidents"`
	// Maint maps a window id to its active occurrence's incident id.
	Maint map[string]string `json:"maint"`
	// DelayedSince is set while the monitor as a whole produces no results:
	// the time of the last result (or of the start, if none came yet).
	DelayedSince time.Time `json:"delayed_since,omitzero"`
	// ConnectivitySince is set while the canaries say Outpost itself is cut
	// off: failures are not attributed to the targets.
	ConnectivitySince time.Time `json:"connectivity_since,omitzero"`
	// WatchingSince is when this state first saw a step.
	WatchingSince time.Time `json:"watching_since,omitzero"`
	// Windows are maintenance windows scheduled by people (the admin API),
	// by id; configured windows live in the Model.
	Windows map[string]*Window `json:"windows,omitempty"`
	// Seen is when each configured maintenance window first appeared: an
	// upcoming occurrence is published from then (see Published).
	Seen map[string]time.Time `json:"seen,omitempty"`
}

// Window is a one-off maintenance window scheduled through the API. Its
// incident exists from the moment it is scheduled (status "scheduled").
type Window struct {
	ID         string    `json:"id"`
	IncidentID string    `json:"incident_id"`
	Components []string  `json:"components"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	// Message is what the window says when it starts, as for configured
	// windows.
	Message string `json:"message,omitempty"`
}

// NewState returns an empty state.
func NewState() *State {
	return &State{Checks: map[string]*CheckState{}, Components: map[string]*ComponentState{},
		Incidents: map[string]*Incident{}, Maint: map[string]string{}, Windows: map[string]*Window{}, Seen: map[string]time.Time{}}
}
