package statuspage

import (
	"fmt"
	"html"
	"slices"
	"strings"
	"time"

	"github.com/outpost-status/outpost/status"
)

// FeedEntry is one incident or maintenance as every format sees it.
type FeedEntry struct {
	ID, Title, Link, HTML string
	Published, Updated    time.Time
	Updates               []FeedUpdate // oldest first
	Affected              string
	When                  string // a maintenance window's time, "Scheduled for Dec 6, 07:14 – 08:14 UTC"
}

// FeedUpdate is one timeline entry: an RSS item of its own, so readers
// that key on items see every update.
type FeedUpdate struct {
	ID, Status, Body string
	At               time.Time
}

// FeedEntries are the latest incidents and maintenance, and the next
// occurrences of configured maintenance windows (with the ids, links and
// creation times they keep once they start): what the feeds (and, next,
// emails) say about them.
func FeedEntries(site Site, snap *status.Snapshot) []FeedEntry {
	names := IncidentNames(snap)
	incs := slices.Clone(snap.Recent)
	for _, u := range snap.Upcoming {
		incs = append(incs, u.Incident())
	}
	var out []FeedEntry
	for _, inc := range incs {
		var b strings.Builder
		e := FeedEntry{Title: inc.Name, Published: inc.CreatedAt, Updated: inc.UpdatedAt}
		for i := len(inc.Updates) - 1; i >= 0; i-- {
			u := inc.Updates[i]
			st := capitalized(IncidentStatusText(u.Status))
			fmt.Fprintf(&b, "<p><small>%s</small><br><strong>%s</strong> - %s</p>", html.EscapeString(u.DisplayAt.In(site.Location).Format("Jan 2, 15:04 MST")),
				html.EscapeString(st), html.EscapeString(u.Body))
		}
		for _, u := range inc.Updates {
			e.Updates = append(e.Updates, FeedUpdate{ID: u.ID, Status: capitalized(IncidentStatusText(u.Status)),
				Body: u.Body, At: u.DisplayAt})
		}
		if e.When = MaintenanceWhen(site, inc); e.When != "" {
			fmt.Fprintf(&b, "<p>%s</p>", html.EscapeString(e.When))
		}
		if v := NewIncidentView(inc, names, site.Location); v.Affected != "" {
			e.Affected = v.Affected
			fmt.Fprintf(&b, "<p>Affected: %s</p>", html.EscapeString(v.Affected))
		}
		e.Link = site.URL + "/incidents/" + inc.ID
		e.ID, e.HTML = e.Link, b.String()
		out = append(out, e)
	}
	return out
}

// FeedUpdated is when the feed last changed.
func FeedUpdated(snap *status.Snapshot, es []FeedEntry) time.Time {
	t := LastChange(snap)
	for _, e := range es {
		if e.Updated.After(t) {
			t = e.Updated
		}
	}
	return t.UTC()
}
