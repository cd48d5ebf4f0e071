package web

import (
	"html/template"
	"time"

	"github.com/outpost-status/outpost/status/statuspage"
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
	Incident *statuspage.IncidentView
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
	Incidents   []*statuspage.IncidentView
	Maintenance []*statuspage.IncidentView
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
	Incidents []*statuspage.IncidentView
}

type historyView struct {
	Months       []monthView
	Newer, Older string
}

type monthView struct {
	Name      string
	Incidents []*statuspage.IncidentView
}

type errorView struct{ Title, Message string }
