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
	// Button is a page whose one button posts to its own URL.
	Button    *buttonView
	Subscribe *subscribeView
	Manage    *manageView
}

type siteView struct {
	Title, URL, Description, TimeZone string
	Member                            string // the cluster member serving the page ("" on a single node)
}

type assetURLs struct{ CSS, JS, Favicon string }

// indexView is the page's overview (statuspage) and its components' rows.
type indexView struct {
	statuspage.Overview
	Groups  []groupView
	BarDays int
}

type groupView struct {
	Name, Class, Icon, Text string
	Components              []template.HTML // rendered "component" blocks
}

type componentView struct {
	ID, Name, Description string
	Class, Icon, Text     string
	AffectedBy            string // a dependency in an outage (depends_on)
	// In a cluster: regional trouble in words, and the component at each
	// location (statuspage's words).
	Regional    string
	Locations   []statuspage.LocationRow
	Uptime      string
	BarDays     int
	Bars, Spark template.HTML
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

// buttonView is a page with one button; Field=Value is posted with it.
type buttonView struct{ Title, Message, Label, Field, Value string }
