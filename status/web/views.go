package web

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/outpost-status/outpost/status"
)

// page is what every template gets: the layout's fields plus the page's.
type page struct {
	Site        siteView
	Path        string
	Description string
	Refresh     int
	Generated   time.Time
	Assets      assetURLs
	// Page-specific parts; only one is set.
	*indexView
	Incident *incidentView
	*historyView
	Error *errorView
}

type siteView struct {
	Title, URL, Description, TimeZone string
}

type assetURLs struct{ CSS, JS, Favicon string }

type indexView struct {
	Banner      bannerView
	Delayed     *time.Time
	Cutoff      *time.Time // connectivity degraded since
	LastChecked time.Time
	Incidents   []*incidentView
	Maintenance []*incidentView
	Upcoming    []upcomingView
	Groups      []groupView
	Days        []dayView
	BarDays     int
}

type bannerView struct{ Class, Text string }

type groupView struct {
	Name, Class, Icon, Text string
	Components              []template.HTML // rendered "component" blocks
}

type componentView struct {
	ID, Name, Description string
	Class, Icon, Text     string
	AffectedBy            string // a dependency in an outage (depends_on)
	Uptime                string
	BarDays               int
	Bars, Spark           template.HTML
}

type upcomingView struct {
	Name, Message, Affected string
	Start, End              time.Time
}

type dayView struct {
	Date      string
	Incidents []*incidentView
}

type incidentView struct {
	ID, Name, Impact, Affected, StatusLine, Summary, Duration string
	Started, Resolved                                         time.Time
	Latest                                                    *updateView
	Updates                                                   []updateView
	Postmortem                                                template.HTML
}

type updateView struct {
	StatusText, Body, Author string
	At                       time.Time
}

type historyView struct {
	Months       []monthView
	Newer, Older string
}

type monthView struct {
	Name      string
	Incidents []*incidentView
}

type errorView struct{ Title, Message string }

// statusText gives every status a word and an icon: never colour alone.
func statusText(s status.ComponentStatus, stale, noData bool) (class, icon, text string) {
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

func incidentStatusText(s status.IncidentStatus) string {
	return strings.ReplaceAll(string(s), "_", " ")
}

// newIncidentView builds the public view of an incident; names holds the
// component names by id.
func newIncidentView(inc *status.Incident, names map[string]string) *incidentView {
	v := &incidentView{ID: inc.ID, Name: inc.Name, Impact: string(inc.Impact), Started: inc.StartedAt, Resolved: inc.ResolvedAt}
	var affected []string
	for _, c := range inc.Components {
		if n, ok := names[c]; ok {
			affected = append(affected, n)
		}
	}
	v.Affected = strings.Join(affected, ", ")
	for i := len(inc.Updates) - 1; i >= 0; i-- { // newest first, as status pages show them
		u := inc.Updates[i]
		v.Updates = append(v.Updates, updateView{StatusText: incidentStatusText(u.Status), Body: u.Body, Author: u.Author, At: u.DisplayAt})
	}
	if len(v.Updates) > 0 {
		v.Latest = &v.Updates[0]
	}
	v.StatusLine = fmt.Sprintf("%s · impact: %s", strings.ToUpper(incidentStatusText(inc.Status)[:1])+incidentStatusText(inc.Status)[1:], inc.Impact)
	if !inc.ResolvedAt.IsZero() {
		v.Duration = status.HumanDuration(inc.Downtime(inc.ResolvedAt))
		v.Summary = fmt.Sprintf("%s, lasted %s", incidentStatusText(inc.Status), v.Duration)
	} else {
		v.Summary = incidentStatusText(inc.Status)
	}
	return v
}
