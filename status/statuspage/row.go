package statuspage

import (
	"strconv"

	"github.com/outpost-status/outpost/status"
)

// Row is one component's row on the page, in words: its status, its
// uptime over the window, and its history as runs of days that read the
// same. The page draws it (bars and a sparkline); an email or a feed can
// say it.
type Row struct {
	Class, Icon, Text string
	// Uptime is "99.98% uptime", or "No data yet".
	Uptime string
	Runs   []DayRun // oldest first; they cover every day of the history
}

// DayRun is consecutive days that read the same: the same status and the
// same uptime as shown, and no incidents. A day with incidents is a run
// of its own.
type DayRun struct {
	First, Last int    // indexes into the history's days
	Class       string // "o", "dg", "po", "mo", "mt"; "nd" for no data
	Text        string // "99.98% uptime", or "no data"
	Incidents   int
}

// NewRow is c's row, with u its uptime history.
func NewRow(c status.ComponentView, u status.UptimeView) Row {
	r := Row{Uptime: "No data yet"}
	r.Class, r.Icon, r.Text = StatusText(c.Status, c.Stale, c.NoData)
	if u.Percent >= 0 && len(u.Days) > 0 {
		r.Uptime = Percent(u.Percent) + " uptime"
	}
	days := u.Days
	for i := 0; i < len(days); {
		d := days[i]
		run := DayRun{First: i, Class: dayClass(d.Status), Text: "no data", Incidents: d.Incidents}
		if d.Percent < 0 {
			run.Class = "nd"
		} else {
			run.Text = Percent(d.Percent) + " uptime"
		}
		j := i + 1
		for d.Incidents == 0 && j < len(days) && sameDay(d, days[j]) {
			j++
		}
		run.Last = j - 1
		r.Runs = append(r.Runs, run)
		i = j
	}
	return r
}

// dayClass is the compact CSS class of a day cell (the page repeats it
// for every run of every component, so every byte counts).
func dayClass(s status.ComponentStatus) string {
	switch s {
	case status.Operational:
		return "o"
	case status.DegradedPerformance:
		return "dg"
	case status.PartialOutage:
		return "po"
	case status.MajorOutage:
		return "mo"
	case status.UnderMaintenance:
		return "mt"
	}
	return ""
}

// sameDay reports whether b reads as a: the same class and the same
// uptime as shown, and no incidents.
func sameDay(a, b status.DayView) bool {
	if b.Incidents > 0 || (a.Percent < 0) != (b.Percent < 0) {
		return false
	}
	if a.Percent < 0 {
		return true
	}
	return a.Status == b.Status && samePercent(a.Percent, b.Percent)
}

// samePercent reports whether two uptimes read the same, with their texts
// made on the stack: at every render of a changed component, 90 days
// made two strings each.
func samePercent(a, b float64) bool {
	if a == b {
		return true
	}
	var x, y [24]byte
	return string(appendPercent(x[:0], a)) == string(appendPercent(y[:0], b))
}

// Percent is an uptime as shown: "100%" only when nothing was down,
// "99.99%" for anything at or above it, else two decimals.
func Percent(f float64) string {
	switch {
	case f >= 1:
		return "100%"
	case f >= 0.9999:
		return "99.99%"
	}
	return string(appendPercent(make([]byte, 0, 8), f))
}

// appendPercent appends Percent(f) to b.
func appendPercent(b []byte, f float64) []byte {
	switch {
	case f >= 1:
		return append(b, "100%"...)
	case f >= 0.9999:
		return append(b, "99.99%"...)
	}
	return append(strconv.AppendFloat(b, f*100, 'f', 2, 64), '%')
}
