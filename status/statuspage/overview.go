package statuspage

import (
	"sort"
	"strings"
	"time"

	"github.com/outpost-status/outpost/status"
)

// Overview is the top of the status page, as a function of the site and a
// snapshot: the banner (never green while monitoring is delayed or cut
// off), the open incidents and maintenance, what maintenance is coming,
// and the last 14 days. The components' rows, drawn from history, are the
// page's own.
type Overview struct {
	Banner      Banner
	Delayed     *time.Time // monitoring delayed since
	Cutoff      *time.Time // connectivity degraded since
	Isolated    *time.Time // this cluster member cut off from the others since
	LastChecked time.Time
	Incidents   []*IncidentView
	Maintenance []*IncidentView
	Upcoming    []UpcomingView
	Days        []DayView // newest first
}

// Banner is the page's headline: a class for its colour, and its words.
type Banner struct{ Class, Text string }

// UpcomingView is one maintenance window to come.
type UpcomingView struct {
	ID, Name, Message, Affected string
	When                        string // "Scheduled for Dec 6, 07:14 – 08:14 UTC"
	Start, End                  time.Time
}

// DayView is one day and the incidents that started on it.
type DayView struct {
	Date      string
	Incidents []*IncidentView
}

// NewOverview builds the page's overview; times are shown in the site's
// zone.
func NewOverview(site Site, s *status.Snapshot) Overview {
	loc := site.Location
	if loc == nil {
		loc = time.UTC
	}
	names := IncidentNames(s)
	v := Overview{LastChecked: s.LastResultAt}
	v.Banner = Banner{Class: string(s.Indicator), Text: s.Description}
	if s.Description == status.NoDataDescription {
		v.Banner.Class = "nodata" // neutral: no colour claims anything
	}
	if !s.DelayedSince.IsZero() {
		d := s.DelayedSince
		v.Delayed = &d
		v.Banner = Banner{Class: "delayed", Text: delayedText(loc, d)}
	}
	if !s.ConnectivitySince.IsZero() {
		c := s.ConnectivitySince
		v.Cutoff = &c
		v.Banner = Banner{Class: "delayed", Text: "Monitoring connectivity degraded since " + c.In(loc).Format("15:04 MST")}
	}
	if !s.IsolatedSince.IsZero() { // the strongest notice: nothing here is current
		i := s.IsolatedSince
		v.Isolated = &i
		v.Banner = Banner{Class: "delayed", Text: isolatedText(loc, i)}
	}
	for _, inc := range s.Incidents {
		v.Incidents = append(v.Incidents, NewIncidentView(inc, names, loc))
	}
	for _, inc := range s.Maintenance {
		v.Maintenance = append(v.Maintenance, NewIncidentView(inc, names, loc))
	}
	for _, u := range Upcoming(s) {
		var aff []string
		for _, c := range u.Components {
			aff = append(aff, names[c])
		}
		v.Upcoming = append(v.Upcoming, UpcomingView{ID: u.ID, Name: u.Name, Message: u.Message, Affected: strings.Join(aff, ", "),
			When: "Scheduled for " + span(u.Start, u.End, loc), Start: u.Start, End: u.End})
	}
	v.Days = days(loc, s, names)
	return v
}

func isolatedText(loc *time.Location, since time.Time) string {
	return "This monitor is cut off from the others since " + since.In(loc).Format("15:04 MST")
}

func delayedText(loc *time.Location, since time.Time) string {
	return "Monitoring delayed since " + since.In(loc).Format("15:04 MST")
}

// Description is the snapshot's status description as the public APIs give
// it: while monitoring is delayed, the page's banner words, never "All
// Systems Operational" over statuses that may be out of date (the
// indicator stays the last known one, a valid Statuspage enum).
func Description(site Site, s *status.Snapshot) string {
	if s.DelayedSince.IsZero() && s.IsolatedSince.IsZero() {
		return s.Description
	}
	loc := site.Location
	if loc == nil {
		loc = time.UTC
	}
	if !s.IsolatedSince.IsZero() {
		return isolatedText(loc, s.IsolatedSince)
	}
	return delayedText(loc, s.DelayedSince)
}

// days lists the last 14 days, newest first, with incidents started then.
func days(loc *time.Location, s *status.Snapshot, names map[string]string) []DayView {
	today := s.GeneratedAt.In(loc)
	today = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, loc)
	all := append(append([]*status.Incident(nil), s.Incidents...), s.History...)
	var out []DayView
	for i := range 14 {
		day := today.AddDate(0, 0, -i)
		dv := DayView{Date: day.Format("Jan 2, 2006")}
		for _, inc := range all {
			if ToCome(inc) { // not a past incident, even later today
				continue
			}
			st := inc.StartedAt.In(loc)
			if st.Year() == day.Year() && st.YearDay() == day.YearDay() {
				dv.Incidents = append(dv.Incidents, NewIncidentView(inc, names, loc))
			}
		}
		out = append(out, dv)
	}
	return out
}

// Upcoming is scheduled maintenance (by people) and the next occurrences
// of configured windows, soonest first.
func Upcoming(s *status.Snapshot) []status.UpcomingMaintenance {
	out := append([]status.UpcomingMaintenance(nil), s.Upcoming...)
	for _, inc := range s.Scheduled {
		out = append(out, status.UpcomingMaintenance{ID: inc.ID, WindowID: inc.ID, Name: inc.Name, Message: inc.Latest().Body,
			Components: inc.Components, Start: inc.Maintenance.ScheduledFor, End: inc.Maintenance.ScheduledUntil})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}
