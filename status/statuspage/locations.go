package statuspage

import (
	"strconv"
	"time"

	"github.com/outpost-status/outpost/status"
)

// LocationRow is a component as seen from one location of a cluster, in
// words: "181 ms" while it is operational there, else its status there.
type LocationRow struct {
	Location, Class, Icon, Text string
}

// LocationRows are c's rows per location (none on a single node).
func LocationRows(c status.ComponentView) []LocationRow {
	out := make([]LocationRow, 0, len(c.Locations))
	for _, l := range c.Locations {
		r := LocationRow{Location: l.Location}
		r.Class, r.Icon, r.Text = StatusText(l.Status, l.Stale, l.NoData)
		if l.HasLatency && !l.Stale && !l.NoData {
			if l.Status == status.Operational {
				r.Text = Millis(l.Latency)
			} else {
				r.Text += ", " + Millis(l.Latency)
			}
		}
		out = append(out, r)
	}
	return out
}

// Millis is a response time as the page shows it: whole milliseconds,
// "under 1 ms" below one.
func Millis(d time.Duration) string {
	if d < time.Millisecond {
		return "under 1 ms"
	}
	return strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10) + " ms"
}

// RegionalText is the public sentence for c's regional trouble (some
// locations fail while the others see it up): "Some regions cannot reach
// Public API: unreachable from eu-west." It is "" without trouble.
func RegionalText(c status.ComponentView) string {
	if len(c.Regional) == 0 {
		return ""
	}
	var unreachable, degraded []string
	for _, loc := range c.Regional {
		if atOutage(c, loc) {
			unreachable = append(unreachable, loc)
		} else {
			degraded = append(degraded, loc)
		}
	}
	head := "Some regions cannot reach " + c.Name
	if len(unreachable) == 0 {
		head = "Some regions see degraded performance of " + c.Name
	}
	return head + ": " + status.Where(unreachable, degraded, nil) + "."
}

// atOutage reports a location from which c is in an outage.
func atOutage(c status.ComponentView, loc string) bool {
	for _, l := range c.Locations {
		if l.Location == loc {
			return l.Status.IsOutage()
		}
	}
	return false
}
