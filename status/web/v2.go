package web

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/outpost-status/outpost/status"
)

// Atlassian Statuspage's public v2 API, field for field, so aggregators
// and bots work unchanged. Outpost's own additions are prefixed "outpost_"
// and documented in docs/api.md.

type v2Page struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	URL      string `json:"url"`
	TimeZone string `json:"time_zone"`
	Updated  string `json:"updated_at"`
}

type v2Status struct {
	Indicator   status.Impact `json:"indicator"`
	Description string        `json:"description"`
}

type v2Component struct {
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

type v2Update struct {
	ID                   string                `json:"id"`
	Status               status.IncidentStatus `json:"status"`
	Body                 string                `json:"body"`
	IncidentID           string                `json:"incident_id"`
	CreatedAt            string                `json:"created_at"`
	UpdatedAt            string                `json:"updated_at"`
	DisplayAt            string                `json:"display_at"`
	AffectedComponents   []v2Affected          `json:"affected_components"`
	DeliverNotifications bool                  `json:"deliver_notifications"`
	CustomTweet          *string               `json:"custom_tweet"`
	TweetID              *string               `json:"tweet_id"`
}

type v2Affected struct {
	Code      string                 `json:"code"`
	Name      string                 `json:"name"`
	OldStatus status.ComponentStatus `json:"old_status"`
	NewStatus status.ComponentStatus `json:"new_status"`
}

type v2Incident struct {
	ID              string                `json:"id"`
	Name            string                `json:"name"`
	Status          status.IncidentStatus `json:"status"`
	CreatedAt       string                `json:"created_at"`
	UpdatedAt       string                `json:"updated_at"`
	MonitoringAt    *string               `json:"monitoring_at"`
	ResolvedAt      *string               `json:"resolved_at"`
	Impact          status.Impact         `json:"impact"`
	Shortlink       string                `json:"shortlink"`
	StartedAt       string                `json:"started_at"`
	PageID          string                `json:"page_id"`
	IncidentUpdates []v2Update            `json:"incident_updates"`
	Components      []v2Component         `json:"components"`
	ScheduledFor    *string               `json:"scheduled_for,omitempty"`
	ScheduledUntil  *string               `json:"scheduled_until,omitempty"`
	// OutpostCancelled: a maintenance withdrawn before or while it ran.
	// Statuspage's enum has no "cancelled", so status reads "completed".
	OutpostCancelled bool `json:"outpost_cancelled,omitempty"`
}

// v2IncidentStatus keeps statuses inside Statuspage's enum.
func v2IncidentStatus(s status.IncidentStatus) status.IncidentStatus {
	if s == status.MaintCancelled {
		return status.MaintCompleted
	}
	return s
}

// v2 builds every /api/v2 body for one snapshot.
type v2 struct {
	s     *Server
	snap  *status.Snapshot
	page  v2Page
	comps map[string]v2Component
	list  []v2Component // page order, groups included after their first member's position
}

func (s *Server) newV2(snap *status.Snapshot) *v2 {
	v := &v2{s: s, snap: snap, comps: map[string]v2Component{}, list: []v2Component{}}
	v.page = v2Page{ID: s.o.SiteID, Name: s.o.Site.Title, URL: s.o.Site.URL, TimeZone: s.o.Site.TimeZone, Updated: v.ts(lastChange(snap))}
	groups := map[string]*v2Component{}
	pos := 0
	for _, c := range snap.Components {
		if c.NoData {
			continue // no valid v2 status says "unknown": left out until it has data
		}
		if c.Group != "" {
			g, ok := groups[c.GroupID]
			if !ok {
				pos++
				gs := findGroup(snap, c.GroupID)
				g = &v2Component{ID: c.GroupID, Name: c.Group, Status: gs.Status, CreatedAt: v.ts(c.CreatedAt), UpdatedAt: v.ts(c.Since),
					Position: pos, PageID: v.page.ID, Group: true, Showcase: false, OutpostStale: gs.Stale}
				groups[c.GroupID] = g
				v.list = append(v.list, *g)
			}
			g.Components = append(g.Components, c.ID)
			if c.Since.After(parseTS(g.UpdatedAt)) {
				g.UpdatedAt = v.ts(c.Since)
			}
			if c.CreatedAt.Before(parseTS(g.CreatedAt)) {
				g.CreatedAt = v.ts(c.CreatedAt)
			}
		}
		pos++
		vc := v2Component{ID: c.ID, Name: c.Name, Status: c.Status, CreatedAt: v.ts(c.CreatedAt), UpdatedAt: v.ts(c.Since),
			Position: pos, Description: nullable(c.Description), Showcase: true, PageID: v.page.ID, OutpostStale: c.Stale}
		if c.GroupID != "" {
			id := c.GroupID
			vc.GroupID = &id
		}
		v.comps[c.ID] = vc
		v.list = append(v.list, vc)
	}
	for i, c := range v.list { // groups were copied before their members were known
		if g, ok := groups[c.ID]; ok && c.Group {
			v.list[i] = *g
			v.comps[c.ID] = *g
		}
	}
	return v
}

func findGroup(s *status.Snapshot, id string) status.GroupView {
	for _, g := range s.Groups {
		if g.ID == id {
			return g
		}
	}
	return status.GroupView{Status: status.Operational}
}

// lastChange is the newest state change, so bodies (and ETags) stay the
// same between changes; the snapshot's time before the first.
func lastChange(s *status.Snapshot) time.Time {
	if t := s.LastChange(); !t.IsZero() {
		return t
	}
	return s.GeneratedAt
}

func (v *v2) ts(t time.Time) string { return t.In(v.s.o.Site.Location).Format(time.RFC3339) }

func (v *v2) tsp(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := v.ts(t)
	return &s
}

func parseTS(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (v *v2) incident(inc *status.Incident) v2Incident {
	out := v2Incident{ID: inc.ID, Name: inc.Name, Status: v2IncidentStatus(inc.Status), OutpostCancelled: inc.Status == status.MaintCancelled, CreatedAt: v.ts(inc.CreatedAt), UpdatedAt: v.ts(inc.UpdatedAt),
		MonitoringAt: v.tsp(inc.MonitoringAt), ResolvedAt: v.tsp(inc.ResolvedAt), Impact: inc.Impact,
		Shortlink: v.s.o.Site.URL + "/incidents/" + inc.ID, StartedAt: v.ts(inc.StartedAt), PageID: v.page.ID,
		IncidentUpdates: []v2Update{}, Components: []v2Component{}}
	if inc.Maintenance != nil {
		out.ScheduledFor, out.ScheduledUntil = v.tsp(inc.Maintenance.ScheduledFor), v.tsp(inc.Maintenance.ScheduledUntil)
	}
	for i := len(inc.Updates) - 1; i >= 0; i-- { // newest first, as Statuspage lists them
		u := inc.Updates[i]
		vu := v2Update{ID: u.ID, Status: v2IncidentStatus(u.Status), Body: u.Body, IncidentID: inc.ID, CreatedAt: v.ts(u.CreatedAt),
			UpdatedAt: v.ts(u.UpdatedAt), DisplayAt: v.ts(u.DisplayAt), AffectedComponents: []v2Affected{}, DeliverNotifications: true}
		for _, a := range u.Affected {
			vu.AffectedComponents = append(vu.AffectedComponents, v2Affected(a))
		}
		out.IncidentUpdates = append(out.IncidentUpdates, vu)
	}
	for _, id := range inc.Components {
		if c, ok := v.comps[id]; ok {
			out.Components = append(out.Components, c)
		}
	}
	return out
}

// maintenances lists upcoming (config windows' next occurrences), active
// and completed maintenance, newest first.
func (v *v2) maintenances(upcoming, active, completed bool) []v2Incident {
	out := []v2Incident{}
	if upcoming {
		for _, u := range v.snap.Upcoming {
			out = append(out, v.incident(u.Incident()))
		}
	}
	if upcoming {
		for _, inc := range v.snap.Scheduled {
			out = append(out, v.incident(inc))
		}
	}
	if active {
		for _, inc := range v.snap.Maintenance {
			out = append(out, v.incident(inc))
		}
	}
	if completed {
		for _, inc := range v.snap.Recent {
			if inc.Maintenance != nil && !inc.Open() {
				out = append(out, v.incident(inc))
			}
		}
	}
	return out
}

func (v *v2) incidents(unresolvedOnly bool) []v2Incident {
	out := []v2Incident{}
	for _, inc := range v.snap.Recent {
		if inc.Maintenance != nil || (unresolvedOnly && !inc.Open()) {
			continue
		}
		out = append(out, v.incident(inc))
	}
	if !unresolvedOnly {
		return out
	}
	// Open incidents are in the snapshot even when older than the latest 50.
	seen := map[string]bool{}
	for _, x := range out {
		seen[x.ID] = true
	}
	for _, inc := range v.snap.Incidents {
		if !seen[inc.ID] {
			out = append(out, v.incident(inc))
		}
	}
	return out
}

// bodies renders every /api/v2 endpoint.
func (v *v2) bodies() (map[string][]byte, error) {
	status := v2Status{Indicator: v.snap.Indicator, Description: v.snap.Description}
	docs := map[string]any{
		"/api/v2/summary.json": map[string]any{"page": v.page, "status": status, "components": v.list,
			"incidents": v.incidents(true), "scheduled_maintenances": v.maintenances(true, true, false)},
		"/api/v2/status.json":                          map[string]any{"page": v.page, "status": status},
		"/api/v2/components.json":                      map[string]any{"page": v.page, "components": v.list},
		"/api/v2/incidents.json":                       map[string]any{"page": v.page, "incidents": v.incidents(false)},
		"/api/v2/incidents/unresolved.json":            map[string]any{"page": v.page, "incidents": v.incidents(true)},
		"/api/v2/scheduled-maintenances.json":          map[string]any{"page": v.page, "scheduled_maintenances": v.maintenances(true, true, true)},
		"/api/v2/scheduled-maintenances/upcoming.json": map[string]any{"page": v.page, "scheduled_maintenances": v.maintenances(true, false, false)},
		"/api/v2/scheduled-maintenances/active.json":   map[string]any{"page": v.page, "scheduled_maintenances": v.maintenances(false, true, false)},
	}
	out := make(map[string][]byte, len(docs))
	for path, doc := range docs {
		b, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", path, err)
		}
		out[path] = b
	}
	return out, nil
}
