package statuspage

import (
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
)

// The overview never shows green while monitoring is delayed or cut off,
// claims nothing before data, names what is coming soonest first, and
// puts each incident on the day it started, in the site's zone.
func TestNewOverview(t *testing.T) {
	at := time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC)
	tokyo := time.FixedZone("JST", 9*3600)
	base := func() *status.Snapshot {
		return &status.Snapshot{GeneratedAt: at, Indicator: status.ImpactNone, Description: "All Systems Operational",
			Components: []status.ComponentView{{ID: "api", Name: "API"}, {ID: "db", Name: "Database"}}}
	}
	for _, tc := range []struct {
		name        string
		edit        func(*status.Snapshot)
		class, text string
		description string // of both APIs
	}{
		{"green", func(*status.Snapshot) {}, "none", "All Systems Operational", "All Systems Operational"},
		{"no data", func(s *status.Snapshot) { s.Description = status.NoDataDescription }, "nodata", status.NoDataDescription, status.NoDataDescription},
		{"delayed", func(s *status.Snapshot) { s.DelayedSince = at.Add(-time.Hour) }, "delayed", "Monitoring delayed since 07:30 JST",
			"Monitoring delayed since 07:30 JST"},
		{"cut off", func(s *status.Snapshot) { s.ConnectivitySince = at.Add(-2 * time.Hour) }, "delayed", "Monitoring connectivity degraded since 06:30 JST",
			"All Systems Operational"},
	} {
		s := base()
		tc.edit(s)
		if b := NewOverview(Site{Location: tokyo}, s).Banner; b.Class != tc.class || b.Text != tc.text {
			t.Errorf("%s: banner %+v, want %s %q", tc.name, b, tc.class, tc.text)
		}
		if d := Description(Site{Location: tokyo}, s); d != tc.description {
			t.Errorf("%s: description %q, want %q", tc.name, d, tc.description)
		}
	}
	s := base()
	s.Upcoming = []status.UpcomingMaintenance{{Name: "Later", Components: []string{"db"}, Start: at.Add(48 * time.Hour)}}
	s.Scheduled = []*status.Incident{{ID: "m1", Name: "Sooner", Components: []string{"api", "db"},
		Maintenance: &status.MaintenanceInfo{ScheduledFor: at.Add(time.Hour), ScheduledUntil: at.Add(2 * time.Hour)},
		Updates:     []status.Update{{Body: "Upgrading"}}}}
	s.History = []*status.Incident{{ID: "i1", Name: "Yesterday in Tokyo", StartedAt: at.Add(-20 * time.Hour)}} // Mar 10, 12:30 JST
	v := NewOverview(Site{Location: tokyo}, s)
	if len(v.Upcoming) != 2 || v.Upcoming[0].Name != "Sooner" || v.Upcoming[0].Affected != "API, Database" || v.Upcoming[0].Message != "Upgrading" {
		t.Errorf("upcoming %+v", v.Upcoming)
	}
	if len(v.Days) != 14 || v.Days[0].Date != "Mar 11, 2026" || len(v.Days[1].Incidents) != 1 || v.Days[1].Incidents[0].Name != "Yesterday in Tokyo" {
		t.Errorf("days start %+v %+v", v.Days[0], v.Days[1])
	}
}
