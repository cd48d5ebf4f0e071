package web

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"strings"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/templates"
)

// renderer turns snapshots into bytes with templates parsed once.
type renderer struct {
	tpl     map[string]*template.Template
	site    siteView
	loc     *time.Location
	assets  assetURLs
	refresh int
	barDays int
}

func newRenderer(site siteView, loc *time.Location, assets assetURLs, refresh int) (*renderer, error) {
	r := &renderer{site: site, loc: loc, assets: assets, refresh: refresh, barDays: 90}
	tpl, err := templates.Parse(template.FuncMap{
		"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"clock":    func(t time.Time) string { return t.In(loc).Format("15:04 MST") },
		"clockSec": func(t time.Time) string { return t.In(loc).Format("15:04:05 MST") },
		"stamp":    func(t time.Time) string { return t.In(loc).Format("Jan 2, 15:04 MST") },
	})
	if err != nil {
		return nil, err
	}
	r.tpl = tpl
	return r, nil
}

func (r *renderer) exec(name string, p page) ([]byte, error) {
	p.Site, p.Assets = r.site, r.assets
	if p.Description == "" {
		p.Description = r.site.Description
	}
	var buf bytes.Buffer
	if err := r.tpl[name].Execute(&buf, p); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

func componentNames(s *status.Snapshot) map[string]string {
	names := make(map[string]string, len(s.Components))
	for _, c := range s.Components {
		names[c.ID] = c.Name
	}
	return names
}

// index renders the status page.
func (r *renderer) index(s *status.Snapshot) ([]byte, error) {
	names := componentNames(s)
	v := &indexView{LastChecked: s.LastResultAt, BarDays: r.barDays}
	v.Banner = bannerView{Class: string(s.Indicator), Text: s.Description}
	if !s.DelayedSince.IsZero() {
		d := s.DelayedSince
		v.Delayed = &d
		v.Banner = bannerView{Class: "delayed", Text: "Monitoring delayed since " + d.In(r.loc).Format("15:04 MST")}
	}
	for _, inc := range s.Incidents {
		v.Incidents = append(v.Incidents, newIncidentView(inc, names))
	}
	for _, inc := range s.Maintenance {
		v.Maintenance = append(v.Maintenance, newIncidentView(inc, names))
	}
	for _, u := range s.Upcoming {
		var aff []string
		for _, c := range u.Components {
			aff = append(aff, names[c])
		}
		v.Upcoming = append(v.Upcoming, upcomingView{Name: u.Name, Message: u.Message, Affected: strings.Join(aff, ", "), Start: u.Start, End: u.End})
	}
	for _, g := range s.Groups {
		gv := groupView{Name: g.Name}
		gv.Class, gv.Icon, gv.Text = statusText(g.Status, g.Stale)
		for _, c := range g.Components {
			gv.Components = append(gv.Components, r.component(c, s.Uptime[c.ID]))
		}
		v.Groups = append(v.Groups, gv)
	}
	v.Days = r.days(s, names)
	return r.exec("index", page{Path: "/", Refresh: r.refresh, Generated: s.GeneratedAt, indexView: v,
		Description: s.Description + " · " + r.site.Title})
}

func (r *renderer) component(c status.ComponentView, u status.UptimeView) componentView {
	cv := componentView{ID: c.ID, Name: c.Name, Description: c.Description}
	cv.Class, cv.Icon, cv.Text = statusText(c.Status, c.Stale)
	cv.Uptime = "No data yet"
	if u.Percent >= 0 && len(u.Days) > 0 {
		cv.Uptime = fmt.Sprintf("%s uptime", percent(u.Percent))
	}
	cv.Bars = r.bars(c.Name, u.Days)
	cv.Spark = sparkline(c.Name, u.Latency)
	return cv
}

// bars draws the uptime history: one cell per day, worst status that day,
// with a title giving the day's uptime and incidents.
func (r *renderer) bars(name string, days []status.DayView) template.HTML {
	const w, gap = 4, 1
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="bars" viewBox="0 0 %d 34" preserveAspectRatio="none" role="img" aria-label="%s: uptime over the last %d days">`,
		max(len(days)*w-gap, 1), html.EscapeString(name), len(days))
	for i, d := range days {
		class := string(d.Status)
		title := d.Date.Format("Jan 2") + ": "
		if d.Percent < 0 {
			class, title = "nodata", title+"no data"
		} else {
			title += percent(d.Percent) + " uptime"
		}
		if d.Incidents > 0 {
			title += fmt.Sprintf(", %d incident", d.Incidents)
			if d.Incidents > 1 {
				title += "s"
			}
		}
		fmt.Fprintf(&b, `<rect x="%d" width="%d" height="34" rx="1" class="%s"><title>%s</title></rect>`, i*w, w-gap, class, html.EscapeString(title))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from numbers and escaped text
}

// sparkline draws mean response time per hour; gaps break the line.
func sparkline(name string, ms []float64) template.HTML {
	top, n, sum := 0.0, 0, 0.0
	for _, v := range ms {
		if v >= 0 {
			top, n, sum = max(top, v), n+1, sum+v
		}
	}
	if n < 2 || top <= 0 {
		return ""
	}
	const width, height = 240.0, 28.0
	step := width / float64(len(ms)-1)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" viewBox="0 0 240 28" preserveAspectRatio="none" role="img" aria-label="%s: response time over 24 hours, mean %.0f ms">`,
		html.EscapeString(name), sum/float64(n))
	var pts []string
	flush := func() {
		if len(pts) > 1 {
			fmt.Fprintf(&b, `<polyline points="%s"/>`, strings.Join(pts, " "))
		}
		pts = pts[:0]
	}
	for i, v := range ms {
		if v < 0 {
			flush()
			continue
		}
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", float64(i)*step, height-1-(v/top)*(height-2)))
	}
	flush()
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // numbers only
}

func percent(f float64) string {
	switch {
	case f >= 1:
		return "100%"
	case f >= 0.9999:
		return "99.99%"
	}
	return fmt.Sprintf("%.2f%%", f*100)
}

// days lists the last 14 days, newest first, with incidents started then.
func (r *renderer) days(s *status.Snapshot, names map[string]string) []dayView {
	today := s.GeneratedAt.In(r.loc)
	today = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, r.loc)
	all := append(append([]*status.Incident(nil), s.Incidents...), s.History...)
	var out []dayView
	for i := range 14 {
		day := today.AddDate(0, 0, -i)
		dv := dayView{Date: day.Format("Jan 2, 2006")}
		for _, inc := range all {
			st := inc.StartedAt.In(r.loc)
			if st.Year() == day.Year() && st.YearDay() == day.YearDay() {
				dv.Incidents = append(dv.Incidents, newIncidentView(inc, names))
			}
		}
		out = append(out, dv)
	}
	return out
}

// incident renders one incident's page.
func (r *renderer) incident(inc *status.Incident, names map[string]string) ([]byte, error) {
	v := newIncidentView(inc, names)
	desc := inc.Name
	if v.Latest != nil {
		desc = v.Latest.Body
	}
	return r.exec("incident", page{Path: "/incidents/" + inc.ID, Incident: v, Description: desc})
}

// errorPage renders an HTML error page.
func (r *renderer) errorPage(title, msg string) []byte {
	b, err := r.exec("error", page{Error: &errorView{Title: title, Message: msg}})
	if err != nil { // templates are parsed at start; this cannot fail on valid input
		return []byte(html.EscapeString(title + ": " + msg))
	}
	return b
}
