package statuspage

import (
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/outpost-status/outpost/status"
)

// The incident as people read it: its words, the page's view of it.

// IncidentView is an incident as the page, its history and the admin
// answers show it.
type IncidentView struct {
	ID, Name, Impact, Affected, StatusLine, Summary, Duration string
	// Window says when a maintenance window happens while it is to come
	// or in progress ("Scheduled for Dec 6, 07:14 – 08:14 UTC", "Until
	// 08:14 UTC"); empty otherwise.
	Window string
	// Started is zero for a window that never started.
	Started, Resolved time.Time
	Latest            *UpdateView
	Updates           []UpdateView
	Postmortem        template.HTML
}

// UpdateView is one update of an incident. It has no author: who posted
// (an admin token's name) is the audit log's, never the public's.
type UpdateView struct {
	StatusText, Body string
	At               time.Time
}

// StatusText gives every status a word and an icon: never colour alone.
func StatusText(s status.ComponentStatus, stale, noData bool) (class, icon, text string) {
	switch {
	case noData:
		return "stale", "–", "No data yet"
	case stale:
		return "stale", "?", "No recent data"
	}
	switch s {
	case status.DegradedPerformance:
		return string(s), "▲", "Degraded performance"
	case status.PartialOutage:
		return string(s), "◐", "Partial outage"
	case status.MajorOutage:
		return string(s), "✕", "Major outage"
	case status.UnderMaintenance:
		return string(s), "⚙", "Under maintenance"
	}
	return string(status.Operational), "✓", "Operational"
}

// IncidentStatusText is an incident status in words, capitalised as the
// page shows it ("In progress"), so pages read the same without the style
// sheet.
func IncidentStatusText(s status.IncidentStatus) string {
	return capitalized(strings.ReplaceAll(string(s), "_", " "))
}

// capitalized upper-cases the first letter ("" stays "": a stored
// incident without a status must not take the page down).
func capitalized(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// NewIncidentView builds the public view of an incident; names holds the
// component names by id, loc is the site's zone for the times it writes.
func NewIncidentView(inc *status.Incident, names map[string]string, loc *time.Location) *IncidentView {
	if loc == nil {
		loc = time.UTC
	}
	v := &IncidentView{ID: inc.ID, Name: inc.Name, Impact: string(inc.Impact), Started: Started(inc), Resolved: inc.ResolvedAt}
	var affected []string
	for _, c := range inc.Components {
		if n, ok := names[c]; ok {
			affected = append(affected, n)
		}
	}
	v.Affected = strings.Join(affected, ", ")
	for i := len(inc.Updates) - 1; i >= 0; i-- { // newest first, as status pages show them
		u := inc.Updates[i]
		v.Updates = append(v.Updates, UpdateView{StatusText: IncidentStatusText(u.Status), Body: u.Body, At: u.DisplayAt})
	}
	if len(v.Updates) > 0 {
		v.Latest = &v.Updates[0]
	}
	v.StatusLine = fmt.Sprintf("%s · impact: %s", capitalized(IncidentStatusText(inc.Status)), inc.Impact)
	switch {
	case inc.Maintenance != nil && v.Started.IsZero():
		when := span(inc.Maintenance.ScheduledFor, inc.Maintenance.ScheduledUntil, loc)
		if inc.Open() {
			v.Window = "Scheduled for " + when
			v.Summary = v.Window
		} else { // no duration: nothing ran
			v.Summary = fmt.Sprintf("%s (was scheduled for %s)", IncidentStatusText(inc.Status), when)
		}
	case !inc.ResolvedAt.IsZero():
		v.Duration = status.HumanDuration(inc.Downtime(inc.ResolvedAt))
		v.Summary = fmt.Sprintf("%s, lasted %s", IncidentStatusText(inc.Status), v.Duration)
	default:
		v.Summary = IncidentStatusText(inc.Status)
		if inc.Maintenance != nil {
			v.Window = until(inc.Maintenance.ScheduledFor, inc.Maintenance.ScheduledUntil, loc)
		}
	}
	return v
}

// IncidentNames maps the ids of the components the snapshot's incidents,
// maintenance and upcoming windows name to their names: what a render
// needs of ComponentNames. Built at every render, it holds only those (nil
// with no incident), not an entry for each of thousands of components.
func IncidentNames(s *status.Snapshot) map[string]string {
	want := map[string]bool{}
	for _, list := range [][]*status.Incident{s.Incidents, s.Maintenance, s.Scheduled, s.History, s.Recent} {
		for _, inc := range list {
			for _, id := range inc.Components {
				want[id] = true
			}
		}
	}
	for _, u := range s.Upcoming {
		for _, id := range u.Components {
			want[id] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	names := make(map[string]string, len(want))
	for _, c := range s.Components {
		if want[c.ID] {
			names[c.ID] = c.Name
		}
	}
	return names
}

// ComponentNames maps the snapshot's component ids to their names.
func ComponentNames(s *status.Snapshot) map[string]string {
	names := make(map[string]string, len(s.Components))
	for _, c := range s.Components {
		names[c.ID] = c.Name
	}
	return names
}

// EventNames maps the ids of an incident event's components to their
// public names: as the event's stored data object (WebhookData's
// incident) names them, which is the page of the step that made the
// event, so a mail sent later or on another node says what the page
// said; a component that object leaves out (one with no data yet, or an
// event stored before its data was) keeps the name the incident's updates
// last gave it.
func EventNames(ev status.Event) map[string]string {
	names := map[string]string{}
	if ev.Incident != nil {
		for _, u := range ev.Incident.Updates {
			for _, a := range u.Affected {
				names[a.Code] = a.Name
			}
		}
	}
	var d struct {
		Incident *struct {
			Components []struct{ ID, Name string } `json:"components"`
		} `json:"incident"`
	}
	if len(ev.Data) > 0 && json.Unmarshal(ev.Data, &d) == nil && d.Incident != nil {
		for _, c := range d.Incident.Components {
			names[c.ID] = c.Name
		}
	}
	return names
}
