package web

import (
	"fmt"
	"html"
	"net/http"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/statuspage"
)

// Badges are shields-style SVGs for READMEs and dashboards. They are
// standalone images, so fills are presentation attributes, not styles.

// CacheBadge is short: badges are embedded elsewhere and should follow
// state changes within a minute.
const CacheBadge = "public, max-age=60, stale-if-error=86400"

// uptimeWindows are the windows /badge/{id}/uptime.svg accepts.
func uptimeWindows() []string { return []string{"24h", "7d", "30d", "90d"} }

var badgeColor = map[status.ComponentStatus]string{
	status.Operational: "#2e7d32", status.DegradedPerformance: "#9a6700", status.PartialOutage: "#bc4c00",
	status.MajorOutage: "#cf222e", status.UnderMaintenance: "#0969da",
}

const greyBadge = "#6e7781"

// textWidth estimates Verdana 11px text width, as shields.io does.
func textWidth(s string) int {
	w := 0
	for _, r := range s {
		switch {
		case r == ' ' || r == '.' || r == ':' || r == 'i' || r == 'l' || r == '(' || r == ')':
			w += 4
		case r >= 'A' && r <= 'Z', r == '%', r == 'm', r == 'w':
			w += 9
		default:
			w += 7
		}
	}
	return w
}

func badgeSVG(label, value, color string) []byte {
	lw, vw := textWidth(label)+10, textWidth(value)+10
	lab, val := html.EscapeString(label), html.EscapeString(value)
	return fmt.Appendf(nil, `<svg xmlns="http://www.w3.org/2000/svg" width="%[1]d" height="20" role="img" aria-label="%[4]s: %[5]s">`+
		`<title>%[4]s: %[5]s</title><linearGradient id="s" x2="0" y2="100%%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>`+
		`<clipPath id="r"><rect width="%[1]d" height="20" rx="3" fill="#fff"/></clipPath>`+
		`<g clip-path="url(#r)"><rect width="%[2]d" height="20" fill="#555"/><rect x="%[2]d" width="%[3]d" height="20" fill="%[6]s"/><rect width="%[1]d" height="20" fill="url(#s)"/></g>`+
		`<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">`+
		`<text x="%[7]d" y="14" textLength="%[9]d">%[4]s</text><text x="%[8]d" y="14" textLength="%[10]d">%[5]s</text></g></svg>`,
		lw+vw, lw, vw, lab, val, color, lw/2, lw+vw/2, lw-10, vw-10)
}

// groupBadge shows a group's status: the worst of its members.
func groupBadge(g status.GroupView) []byte { return statusSVG(g.Name, g.Status, g.Stale, g.NoData) }

// statusBadge shows a component's current status.
func statusBadge(c status.ComponentView) []byte {
	return statusSVG(c.Name, c.Status, c.Stale, c.NoData)
}

// statusSVG is a status badge: "no recent data" when stale, "no data yet"
// before the first confirmed result, both grey.
func statusSVG(name string, st status.ComponentStatus, stale, noData bool) []byte {
	class, _, text := statuspage.StatusText(st, stale, noData)
	color := badgeColor[st]
	if class == "stale" {
		color = greyBadge
	}
	return badgeSVG(name, text, color)
}

// uptimeBadge shows a component's uptime over a window.
func uptimeBadge(window string, u float64) []byte {
	if u < 0 {
		return badgeSVG("uptime "+window, "no data", greyBadge)
	}
	color := "#cf222e"
	switch {
	case u >= 0.999:
		color = "#2e7d32"
	case u >= 0.99:
		color = "#6a8f00"
	case u >= 0.95:
		color = "#9a6700"
	}
	return badgeSVG("uptime "+window, statuspage.Percent(u), color)
}

func errorBadge(code int, value string) *Prepared {
	p := Prepare(badgeSVG("badge", value, greyBadge), "image/svg+xml", CacheBadge)
	p.Status = code
	return p
}

var (
	badgeNotFound  = errorBadge(http.StatusNotFound, "unknown component or group")
	badgeBadWindow = errorBadge(http.StatusBadRequest, "window must be 24h, 7d, 30d or 90d")
)
