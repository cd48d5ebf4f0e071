package statuspage

import (
	"time"

	"github.com/outpost-status/outpost/status"
)

// The words of a maintenance window: when it happens, and whether it ran.

// Started is when inc began: its start, except for a maintenance window
// that never ran (still to come, or cancelled or over before it started),
// which has no start: the engine keeps its scheduled start as StartedAt
// (it orders the history), but nothing happened then.
func Started(inc *status.Incident) time.Time {
	if inc.Maintenance == nil {
		return inc.StartedAt
	}
	for _, u := range inc.Updates {
		if u.Status == status.MaintInProgress || u.Status == status.MaintVerifying {
			return inc.StartedAt
		}
	}
	return time.Time{}
}

// ToCome reports a maintenance window still to come: open and never
// started. It is no past incident.
func ToCome(inc *status.Incident) bool {
	return inc.Maintenance != nil && inc.Open() && Started(inc).IsZero()
}

// MaintenanceWhen is when a window happens, in the site's zone, as feeds
// and calendars say it: "Scheduled for Dec 6, 07:14 – 08:14 UTC"; empty
// for an incident.
func MaintenanceWhen(site Site, inc *status.Incident) string {
	if inc.Maintenance == nil {
		return ""
	}
	loc := site.Location
	if loc == nil {
		loc = time.UTC
	}
	return "Scheduled for " + span(inc.Maintenance.ScheduledFor, inc.Maintenance.ScheduledUntil, loc)
}

// span is a window's time, its zone named: "Dec 6, 07:14 – 08:14 UTC";
// the end's day when it is another, and both zones when they differ
// (a change to summer time inside the window).
func span(start, end time.Time, loc *time.Location) string {
	s, e := start.In(loc), end.In(loc)
	from := s.Format("Jan 2, 15:04")
	if s.Format("MST") != e.Format("MST") {
		from += s.Format(" MST")
	}
	return from + " – " + endText(s, e)
}

// until is an open window's end: "Until 08:14 UTC".
func until(start, end time.Time, loc *time.Location) string {
	return "Until " + endText(start.In(loc), end.In(loc))
}

func endText(s, e time.Time) string {
	if s.Year() != e.Year() || s.YearDay() != e.YearDay() {
		return e.Format("Jan 2, 15:04 MST")
	}
	return e.Format("15:04 MST")
}
