package statuspage

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/outpost-status/outpost/status"
)

// View is the representation of one snapshot: every /api/v2 body, and
// the objects payloads are made of.
type View struct {
	site Site
	snap *status.Snapshot
	page Page
	// comps indexes list by id: a copy of each component beside the list
	// doubled the view (2.5 MB a render at 5,000 components).
	comps map[string]int
	list  []Component // page order, groups included after their first member's position
}

// New builds the view of snap.
func New(site Site, snap *status.Snapshot) *View {
	if site.Location == nil {
		site.Location = time.UTC
	}
	// Made at their size: a view is built at every render of the read
	// surfaces, and grown by appends it allocated about 2.5 times what it keeps.
	n := len(snap.Components) + len(snap.Groups)
	v := &View{site: site, snap: snap, comps: make(map[string]int, n), list: make([]Component, 0, n)}
	v.page = Page{ID: site.ID, Name: site.Name, URL: site.URL, TimeZone: site.TimeZone, Updated: v.ts(LastChange(snap))}
	groups := map[string]*Component{}
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
				g = &Component{ID: c.GroupID, Name: c.Group, Status: gs.Status, CreatedAt: v.ts(c.CreatedAt), UpdatedAt: v.ts(c.Since),
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
		vc := Component{ID: c.ID, Name: c.Name, Status: c.Status, CreatedAt: v.ts(c.CreatedAt), UpdatedAt: v.ts(c.Since),
			Position: pos, Description: nullable(c.Description), Showcase: true, PageID: v.page.ID, OutpostStale: c.Stale}
		if c.GroupID != "" {
			id := c.GroupID
			vc.GroupID = &id
		}
		v.comps[c.ID] = len(v.list)
		v.list = append(v.list, vc)
	}
	for i, c := range v.list { // groups were copied before their members were known
		if g, ok := groups[c.ID]; ok && c.Group {
			v.list[i] = *g
			v.comps[c.ID] = i // a group wins over a component of its id, as it did
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

// LastChange is the newest state change, so bodies (and ETags) stay the
// same between changes; the snapshot's time before the first.
func LastChange(s *status.Snapshot) time.Time {
	if t := s.LastChange(); !t.IsZero() {
		return t
	}
	return s.GeneratedAt
}

// tsLayout is Statuspage's: RFC 3339 with milliseconds, in the page's
// zone ("2026-03-10T13:52:00.000Z").
const tsLayout = "2006-01-02T15:04:05.000Z07:00"

func (v *View) ts(t time.Time) string { return t.In(v.site.Location).Format(tsLayout) }

func (v *View) tsp(t time.Time) *string {
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

// Incident is inc as Statuspage shows it, with its components as they
// are in the view.
func (v *View) Incident(inc *status.Incident) Incident {
	out := Incident{ID: inc.ID, Name: inc.Name, Status: incidentStatus(inc.Status), OutpostCancelled: inc.Status == status.MaintCancelled, CreatedAt: v.ts(inc.CreatedAt), UpdatedAt: v.ts(inc.UpdatedAt),
		MonitoringAt: v.tsp(inc.MonitoringAt), ResolvedAt: v.tsp(inc.ResolvedAt), Impact: inc.Impact,
		Shortlink: v.site.URL + "/incidents/" + inc.ID, StartedAt: v.tsp(Started(inc)), PageID: v.page.ID,
		IncidentUpdates: []Update{}, Components: []Component{}}
	if inc.Maintenance != nil {
		out.ScheduledFor, out.ScheduledUntil = v.tsp(inc.Maintenance.ScheduledFor), v.tsp(inc.Maintenance.ScheduledUntil)
	}
	for i := len(inc.Updates) - 1; i >= 0; i-- { // newest first, as Statuspage lists them
		u := inc.Updates[i]
		vu := Update{ID: u.ID, Status: incidentStatus(u.Status), Body: u.Body, IncidentID: inc.ID, CreatedAt: v.ts(u.CreatedAt),
			UpdatedAt: v.ts(u.UpdatedAt), DisplayAt: v.ts(u.DisplayAt), DeliverNotifications: true}
		for _, a := range u.Affected { // none: null, as Statuspage sends it
			vu.AffectedComponents = append(vu.AffectedComponents, Affected{Code: a.Code, Name: a.Name,
				OldStatus: nullableStatus(a.OldStatus), NewStatus: a.NewStatus})
		}
		out.IncidentUpdates = append(out.IncidentUpdates, vu)
	}
	for _, id := range inc.Components {
		if i, ok := v.comps[id]; ok {
			out.Components = append(out.Components, v.list[i])
		}
	}
	return out
}

// maintenances lists upcoming (config windows' next occurrences), active
// and completed maintenance, newest first.
func (v *View) maintenances(upcoming, active, completed bool) []Incident {
	out := []Incident{}
	if upcoming {
		for _, u := range v.snap.Upcoming {
			out = append(out, v.Incident(u.Incident()))
		}
	}
	if upcoming {
		for _, inc := range v.snap.Scheduled {
			out = append(out, v.Incident(inc))
		}
	}
	if active {
		for _, inc := range v.snap.Maintenance {
			out = append(out, v.Incident(inc))
		}
	}
	if completed {
		for _, inc := range v.snap.Recent {
			if inc.Maintenance != nil && !inc.Open() {
				out = append(out, v.Incident(inc))
			}
		}
	}
	return out
}

func (v *View) incidents(unresolvedOnly bool) []Incident {
	out := []Incident{}
	for _, inc := range v.snap.Recent {
		if inc.Maintenance != nil || (unresolvedOnly && !inc.Open()) {
			continue
		}
		out = append(out, v.Incident(inc))
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
			out = append(out, v.Incident(inc))
		}
	}
	return out
}

// Bodies renders every /api/v2 endpoint, by path.
func (v *View) Bodies() (map[string][]byte, error) {
	status := Status{Indicator: v.snap.Indicator, Description: Description(v.site, v.snap)}
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
