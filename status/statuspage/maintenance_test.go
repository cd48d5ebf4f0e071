package statuspage

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
)

// maint is a maintenance window from 07:14 to 08:14 UTC on Dec 6, 2026,
// scheduled the day before, in the status given, with the updates a
// window in that status has.
func maint(st status.IncidentStatus) *status.Incident {
	start := time.Date(2026, 12, 6, 7, 14, 0, 0, time.UTC)
	end := start.Add(time.Hour)
	made := start.Add(-24 * time.Hour)
	inc := &status.Incident{ID: "mnt-1", Name: "Database upgrade", Status: st, Impact: status.ImpactMaintenance,
		Components: []string{"db"}, CreatedAt: made, UpdatedAt: made, StartedAt: start,
		Maintenance: &status.MaintenanceInfo{WindowID: "mnt-1", ScheduledFor: start, ScheduledUntil: end},
		Updates:     []status.Update{{ID: "u1", Status: status.MaintScheduled, Body: "Writes pause.", DisplayAt: made}}}
	add := func(s status.IncidentStatus, at time.Time) {
		inc.Updates = append(inc.Updates, status.Update{ID: "u" + string(s), Status: s, Body: string(s), DisplayAt: at})
		inc.UpdatedAt = at
	}
	switch st {
	case status.MaintInProgress:
		add(status.MaintInProgress, start)
	case status.MaintCompleted:
		add(status.MaintInProgress, start)
		add(status.MaintCompleted, end)
		inc.ResolvedAt, inc.PeriodFrom, inc.Outage = end, start, time.Hour
	case status.MaintCancelled: // withdrawn the evening before: it never ran
		inc.ResolvedAt = made.Add(12 * time.Hour)
		add(status.MaintCancelled, inc.ResolvedAt)
	}
	return inc
}

// A window says when it happens, in the site's zone with the zone named:
// upcoming, its start and end; in progress, its end; never started, no
// start, no duration, and that it was cancelled.
func TestMaintenanceWords(t *testing.T) {
	names := map[string]string{"db": "Database"}
	berlin := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		name                 string
		st                   status.IncidentStatus
		loc                  *time.Location
		window, summary      string
		started, hasDuration bool
	}{
		{"upcoming", status.MaintScheduled, time.UTC, "Scheduled for Dec 6, 07:14 – 08:14 UTC", "Scheduled for Dec 6, 07:14 – 08:14 UTC", false, false},
		{"upcoming in Berlin", status.MaintScheduled, berlin, "Scheduled for Dec 6, 08:14 – 09:14 CET", "Scheduled for Dec 6, 08:14 – 09:14 CET", false, false},
		{"in progress", status.MaintInProgress, time.UTC, "Until 08:14 UTC", "In progress", true, false},
		{"completed", status.MaintCompleted, time.UTC, "", "Completed, lasted 1 hour", true, true},
		{"cancelled before it started", status.MaintCancelled, time.UTC, "", "Cancelled (was scheduled for Dec 6, 07:14 – 08:14 UTC)", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := NewIncidentView(maint(tc.st), names, tc.loc)
			if v.Window != tc.window || v.Summary != tc.summary {
				t.Errorf("window %q, summary %q; want %q, %q", v.Window, v.Summary, tc.window, tc.summary)
			}
			if !v.Started.IsZero() != tc.started || (v.Duration != "") != tc.hasDuration {
				t.Errorf("started %v, duration %q: want started %v, a duration %v", v.Started, v.Duration, tc.started, tc.hasDuration)
			}
		})
	}
}

// A window that ends on another day names that day; a zone change inside
// the window names both zones.
func TestMaintenanceSpan(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no time zone database")
	}
	for _, tc := range []struct {
		name       string
		start, end time.Time
		loc        *time.Location
		want       string
	}{
		{"same day", time.Date(2026, 12, 6, 7, 14, 0, 0, time.UTC), time.Date(2026, 12, 6, 8, 14, 0, 0, time.UTC), time.UTC, "Dec 6, 07:14 – 08:14 UTC"},
		{"over midnight", time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC), time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC), time.UTC, "Dec 6, 22:00 – Dec 7, 02:00 UTC"},
		{"into summer time", time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 29, 2, 0, 0, 0, time.UTC), paris, "Mar 29, 01:00 CET – 04:00 CEST"},
	} {
		if got := span(tc.start, tc.end, tc.loc); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// The overview's upcoming windows link to their pages and say when they
// happen; a window not yet started is no past incident, even today.
func TestOverviewMaintenance(t *testing.T) {
	up := maint(status.MaintScheduled)
	at := up.CreatedAt.Add(time.Hour) // Dec 5, 08:14
	s := &status.Snapshot{GeneratedAt: at.Add(23 * time.Hour), Components: []status.ComponentView{{ID: "db", Name: "Database"}},
		Scheduled: []*status.Incident{up}, History: []*status.Incident{up}}
	v := NewOverview(Site{Location: time.UTC}, s)
	if len(v.Upcoming) != 1 || v.Upcoming[0].ID != "mnt-1" || v.Upcoming[0].When != "Scheduled for Dec 6, 07:14 – 08:14 UTC" {
		t.Errorf("upcoming %+v", v.Upcoming)
	}
	for _, d := range v.Days {
		for _, inc := range d.Incidents {
			t.Errorf("%s lists %q, which has not started, as a past incident", d.Date, inc.Name)
		}
	}
}

// Feed entries of a window say when it happens.
func TestFeedEntriesSayWhen(t *testing.T) {
	s := &status.Snapshot{Components: []status.ComponentView{{ID: "db", Name: "Database"}},
		Recent: []*status.Incident{maint(status.MaintCancelled)}, Scheduled: []*status.Incident{maint(status.MaintScheduled)}}
	es := FeedEntries(Site{URL: "https://status.example.com", Location: time.UTC}, s)
	if len(es) == 0 {
		t.Fatal("no entries")
	}
	for _, e := range es {
		if e.When != "Scheduled for Dec 6, 07:14 – 08:14 UTC" || !strings.Contains(e.HTML, e.When) {
			t.Errorf("entry %q: when %q, html %q", e.Title, e.When, e.HTML)
		}
	}
}

// Statuspage's v2: a window not yet started has started_at null (and so
// does one cancelled before it started); an update that changes no
// component has affected_components null; a component that had no data
// has no old status; times carry milliseconds.
func TestV2Fidelity(t *testing.T) {
	s := &status.Snapshot{GeneratedAt: time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC),
		Components: []status.ComponentView{{ID: "db", Name: "Database", Status: status.MajorOutage}}}
	v := New(Site{ID: "p", URL: "https://status.example.com", Location: time.UTC}, s)
	decode := func(inc *status.Incident) map[string]any {
		b, err := json.Marshal(v.Incident(inc))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		st      status.IncidentStatus
		started any
	}{
		{status.MaintScheduled, nil},
		{status.MaintCancelled, nil},
		{status.MaintInProgress, "2026-12-06T07:14:00.000Z"},
	} {
		m := decode(maint(tc.st))
		if m["started_at"] != tc.started || m["scheduled_for"] != "2026-12-06T07:14:00.000Z" || m["scheduled_until"] != "2026-12-06T08:14:00.000Z" {
			t.Errorf("%s: started_at %v, scheduled %v – %v; want started_at %v", tc.st, m["started_at"], m["scheduled_for"], m["scheduled_until"], tc.started)
		}
		if ups := m["incident_updates"].([]any); ups[len(ups)-1].(map[string]any)["affected_components"] != nil {
			t.Errorf("%s: an update that changes no component has affected_components %v, want null", tc.st, ups[len(ups)-1].(map[string]any)["affected_components"])
		}
	}
	inc := &status.Incident{ID: "inc-1", Name: "Database down", Status: status.Investigating, Components: []string{"db"},
		StartedAt: s.GeneratedAt, CreatedAt: s.GeneratedAt, UpdatedAt: s.GeneratedAt,
		Updates: []status.Update{{ID: "u1", Status: status.Investigating, DisplayAt: s.GeneratedAt,
			Affected: []status.ComponentChange{{Code: "db", Name: "Database", NewStatus: status.MajorOutage}}}}}
	m := decode(inc)
	a := m["incident_updates"].([]any)[0].(map[string]any)["affected_components"].([]any)[0].(map[string]any)
	if old, ok := a["old_status"]; !ok || old != nil || a["new_status"] != "major_outage" {
		t.Errorf("affected %v: want old_status null for a component that had no data", a)
	}
	if m["created_at"] != "2026-12-05T09:00:00.000Z" {
		t.Errorf("created_at %v, want milliseconds as Statuspage sends them", m["created_at"])
	}
}

// The incident's page writes statuses capitalised, as the home page shows
// them, in its bytes rather than only through the style sheet.
func TestStatusesCapitalised(t *testing.T) {
	v := NewIncidentView(maint(status.MaintInProgress), nil, time.UTC)
	var got []string
	for _, u := range v.Updates {
		got = append(got, u.StatusText)
	}
	if strings.Join(got, ",") != "In progress,Scheduled" {
		t.Errorf("update statuses %q, want In progress,Scheduled", got)
	}
}

// A component.status_changed body for a component that had no data says
// old_status null, as the incident update's affected component does; one
// that had a status keeps it.
func TestComponentUpdateOldStatus(t *testing.T) {
	s := &status.Snapshot{GeneratedAt: time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC),
		Components: []status.ComponentView{{ID: "db", Name: "Database", Status: status.MajorOutage}}}
	v := New(Site{ID: "p", URL: "https://status.example.com", Location: time.UTC}, s)
	for _, tc := range []struct {
		old  status.ComponentStatus
		want any
	}{{"", nil}, {status.Operational, "operational"}} {
		d, err := v.WebhookData(status.Event{ID: "evt-1", Type: status.ComponentStatusChanged, At: s.GeneratedAt,
			Component: &status.ComponentEvent{ID: "db", Name: "Database", OldStatus: tc.old, NewStatus: status.MajorOutage}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(d)
		var m struct {
			Update map[string]any `json:"component_update"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if old, ok := m.Update["old_status"]; !ok || old != tc.want {
			t.Errorf("old %q: component_update %v, want old_status %v", tc.old, m.Update, tc.want)
		}
	}
}
