package web

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/yuin/goldmark"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/statuspage"
	"github.com/outpost-status/outpost/templates"
)

// renderer turns snapshots into bytes with templates parsed once.
type renderer struct {
	tpl     map[string]*template.Template
	site    siteView
	public  statuspage.Site // the same site, for statuspage's views
	loc     *time.Location
	assets  assetURLs
	refresh int
	barDays int

	mu     sync.Mutex
	blocks map[string]block // rendered component blocks by component id
	// scratch is where a block is rendered (under mu) before it is kept at
	// its size: a buffer of its own, grown from nothing, allocated about
	// five times the block (45 MB when 5,000 components change).
	scratch bytes.Buffer
	// blockRenders counts component blocks rendered (not reused).
	blockRenders atomic.Uint64
	// pageSize is the last page's length: the next one is rendered into a
	// buffer of about that size, not one grown by doubling (at 5,000
	// components a 7 MB page allocated 18 MB and kept an 8 MiB array).
	pageSize atomic.Int64
}

// block is a rendered component with what it was rendered from: a state
// change usually touches one component, and the other blocks are reused.
type block struct {
	status     status.ComponentStatus
	affectedBy string
	stale      bool
	noData     bool
	name       string
	desc       string
	percent    float64
	days       []status.DayView
	latency    []float64
	locations  []status.LocationView
	regional   []string
	html       template.HTML
}

func (b *block) same(c status.ComponentView, u status.UptimeView) bool {
	return b.status == c.Status && b.affectedBy == c.AffectedBy && b.stale == c.Stale && b.noData == c.NoData && b.name == c.Name && b.desc == c.Description &&
		b.percent == u.Percent && sameSlice(b.days, u.Days) && sameSlice(b.latency, u.Latency) &&
		slices.Equal(b.locations, c.Locations) && slices.Equal(b.regional, c.Regional)
}

// sameSlice compares two slices, at once when they share their array: a
// snapshot's history slices are never changed once published (status.
// UptimeView), so blocks keep them rather than copies (25 MB at 5,000
// components) and most comparisons are of the very same slice.
func sameSlice[T comparable](a, b []T) bool {
	if len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0]) {
		return true
	}
	return slices.Equal(a, b)
}

func newRenderer(site siteView, loc *time.Location, assets assetURLs, refresh int) (*renderer, error) {
	r := &renderer{site: site, loc: loc, assets: assets, refresh: refresh, barDays: 90, blocks: map[string]block{},
		public: statuspage.Site{Name: site.Title, URL: site.URL, TimeZone: site.TimeZone, Location: loc}}
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

func (r *renderer) exec(name string, p page) ([]byte, error) { return r.execSized(name, p, 0) }

// execSized is exec into a buffer of size bytes to begin with.
func (r *renderer) execSized(name string, p page, size int) ([]byte, error) {
	p.Site, p.Assets = r.site, r.assets
	if p.Description == "" {
		p.Description = r.site.Description
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	if err := r.tpl[name].Execute(buf, p); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// index renders the status page.
func (r *renderer) index(s *status.Snapshot) ([]byte, error) {
	b, _, err := r.indexBody(s)
	return b, err
}

// indexBody renders the status page; settle, called with the page as
// served, makes the kept blocks that page's own bytes.
func (r *renderer) indexBody(s *status.Snapshot) ([]byte, func(served []byte), error) {
	v := &indexView{Overview: statuspage.NewOverview(r.public, s),
		BarDays: r.barDays}
	var labels []string
	for _, u := range s.Uptime {
		labels = dayLabels(u.Days)
		break
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[string]bool, len(s.Components))
	order := make([]string, 0, len(s.Components))
	for _, g := range s.Groups {
		gv := groupView{Name: g.Name}
		gv.Class, gv.Icon, gv.Text = statuspage.StatusText(g.Status, g.Stale, g.NoData)
		for _, c := range g.Components {
			html, err := r.block(c, s.Uptime[c.ID], labels)
			if err != nil {
				return nil, nil, err
			}
			gv.Components = append(gv.Components, html)
			seen[c.ID] = true
			order = append(order, c.ID)
		}
		v.Groups = append(v.Groups, gv)
	}
	for id := range r.blocks {
		if !seen[id] {
			delete(r.blocks, id)
		}
	}
	// The description feeds link previews: it must not stay green either.
	last := int(r.pageSize.Load())
	b, err := r.execSized("index", page{Path: "/", Refresh: r.refresh, Generated: s.GeneratedAt, indexView: v,
		Description: v.Banner.Text + " · " + r.site.Title}, last+last/32)
	r.pageSize.Store(int64(len(b)))
	if err != nil {
		return nil, nil, err
	}
	return b, func(served []byte) { r.settle(v.Groups, order, served) }, nil
}

// settle makes the kept blocks (in page order: order, as rendered into
// groups) the served page's own bytes: kept apart they were a second copy
// of the page (3 MB at 5,000 components). The page is never written once
// rendered, so a string over its bytes stays true. A block rendered again
// meanwhile, or not found, is left as it is.
func (r *renderer) settle(groups []groupView, order []string, served []byte) {
	if len(served) == 0 {
		return
	}
	page := unsafe.String(unsafe.SliceData(served), len(served))
	r.mu.Lock()
	defer r.mu.Unlock()
	pos, i := 0, 0
	for _, g := range groups {
		for _, html := range g.Components {
			id := order[i]
			i++
			at := strings.Index(page[pos:], string(html))
			b, ok := r.blocks[id]
			if at < 0 || !ok || unsafe.StringData(string(b.html)) != unsafe.StringData(string(html)) {
				continue
			}
			pos += at
			b.html = template.HTML(page[pos : pos+len(html)]) //nolint:gosec // the same HTML, as served
			r.blocks[id] = b
			pos += len(html)
		}
	}
}

// block returns the component's rendered block, reusing the last one when
// nothing it shows has changed. The caller holds r.mu.
func (r *renderer) block(c status.ComponentView, u status.UptimeView, labels []string) (template.HTML, error) {
	if b, ok := r.blocks[c.ID]; ok && b.same(c, u) {
		return b.html, nil
	}
	r.blockRenders.Add(1)
	r.scratch.Reset()
	if err := r.tpl["index"].ExecuteTemplate(&r.scratch, "component", r.component(c, u, labels)); err != nil {
		return "", fmt.Errorf("render component %s: %w", c.ID, err)
	}
	html := template.HTML(r.scratch.String()) //nolint:gosec // the output of html/template
	r.blocks[c.ID] = block{status: c.Status, affectedBy: c.AffectedBy, stale: c.Stale, noData: c.NoData, name: c.Name, desc: c.Description, percent: u.Percent,
		days: u.Days, latency: u.Latency, locations: c.Locations, regional: c.Regional, html: html}
	return html, nil
}

func (r *renderer) component(c status.ComponentView, u status.UptimeView, labels []string) componentView {
	row := statuspage.NewRow(c, u)
	return componentView{ID: c.ID, Name: c.Name, Description: c.Description, BarDays: r.barDays, AffectedBy: c.AffectedBy,
		Class: row.Class, Icon: row.Icon, Text: row.Text, Uptime: row.Uptime,
		Regional: statuspage.RegionalText(c), Locations: statuspage.LocationRows(c),
		Bars: bars(c.Name, u.Days, row.Runs, labels), Spark: sparkline(c.Name, u.Latency)}
}

// dayLabels formats each day's label once per render: every component
// shares the same dates.
func dayLabels(days []status.DayView) []string {
	out := make([]string, len(days))
	for i, d := range days {
		out[i] = d.Date.Format("Jan 2") + ": "
	}
	return out
}

// bars draws the uptime history (statuspage's runs of days that read the
// same): each run is a dashed line whose 3-on-1-off dashes are its day
// cells, with one title ("Dec 11 – Feb 14: 100% uptime"). A cell per
// element with a title each made 8.7 KB of HTML per component (43 MB of
// page at 5,000 components); runs make a mostly green history about 1 KB,
// drawn the same.
func bars(name string, days []status.DayView, runs []statuspage.DayRun, labels []string) template.HTML {
	const w = 4
	// About 110 bytes a run: grown from 512 by doubling, a history of
	// several runs allocated twice what it kept.
	b := make([]byte, 0, 160+len(name)+112*len(runs))
	b = append(b, `<svg class="bars" viewBox="0 0 `...)
	b = strconv.AppendInt(b, int64(max(len(days)*w-1, 1)), 10)
	b = append(b, ` 34" preserveAspectRatio="none" role="img" aria-label="`...)
	b = append(b, html.EscapeString(name)...)
	b = append(b, `: uptime over the last `...)
	b = strconv.AppendInt(b, int64(len(days)), 10)
	b = append(b, ` days">`...)
	label := func(i int) string {
		if i < len(labels) {
			return strings.TrimSuffix(labels[i], ": ")
		}
		return days[i].Date.Format("Jan 2")
	}
	for _, run := range runs {
		b = append(b, `<path d="M`...)
		b = strconv.AppendInt(b, int64(run.First*w), 10)
		b = append(b, ` 17h`...)
		b = strconv.AppendInt(b, int64((run.Last-run.First+1)*w-1), 10)
		b = append(b, `" class="`...)
		b = append(b, run.Class...)
		b = append(b, `"><title>`...)
		b = append(b, label(run.First)...)
		if run.Last > run.First {
			b = append(b, " – "...)
			b = append(b, label(run.Last)...)
		}
		b = append(b, ": "...)
		b = append(b, run.Text...)
		if run.Incidents > 0 {
			b = append(b, ", "...)
			b = strconv.AppendInt(b, int64(run.Incidents), 10)
			b = append(b, " incident"...)
			if run.Incidents > 1 {
				b = append(b, 's')
			}
		}
		b = append(b, "</title></path>"...)
	}
	b = append(b, "</svg>"...)
	return template.HTML(b) //nolint:gosec // built from numbers and escaped text
}

// sparkline draws mean response time per hour; gaps break the line. It
// appends numbers to one buffer: a string per point, joined, made about
// 2.4 KB of garbage per component rendered.
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
	b := make([]byte, 0, 256+len(name)+16*len(ms))
	b = append(b, `<svg class="spark" viewBox="0 0 240 28" preserveAspectRatio="none" role="img" aria-label="`...)
	b = append(b, html.EscapeString(name)...)
	b = append(b, `: response time over 24 hours, mean `...)
	b = strconv.AppendFloat(b, sum/float64(n), 'f', 0, 64)
	b = append(b, ` ms">`...)
	start, pts := -1, 0 // where the open polyline's points begin, and how many
	flush := func() {
		if pts > 1 {
			b = append(b, `"/>`...)
		} else if start >= 0 {
			b = b[:start] // a lone point draws nothing
		}
		start, pts = -1, 0
	}
	for i, v := range ms {
		if v < 0 {
			flush()
			continue
		}
		if pts == 0 {
			start = len(b)
			b = append(b, `<polyline points="`...)
		} else {
			b = append(b, ' ')
		}
		b = strconv.AppendFloat(b, float64(i)*step, 'f', 1, 64)
		b = append(b, ',')
		b = strconv.AppendFloat(b, height-1-(v/top)*(height-2), 'f', 1, 64)
		pts++
	}
	flush()
	b = append(b, `</svg>`...)
	return template.HTML(b) //nolint:gosec // numbers and escaped text
}

// incident renders one incident's page.
func (r *renderer) incident(inc *status.Incident, names map[string]string) ([]byte, error) {
	v := statuspage.NewIncidentView(inc, names, r.loc)
	if inc.Postmortem != "" {
		v.Postmortem = markdown(inc.Postmortem)
	}
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

// buttonPage renders a page with one button that posts to its own URL.
func (r *renderer) buttonPage(v buttonView) ([]byte, error) {
	return r.exec("button", page{Button: &v})
}

// md renders Markdown safely: goldmark without WithUnsafe drops raw HTML
// and dangerous link schemes (javascript:, vbscript:, file:, data: links).
var md = goldmark.New()

func markdown(src string) template.HTML {
	var b bytes.Buffer
	if err := md.Convert([]byte(src), &b); err != nil {
		return template.HTML("<p>" + html.EscapeString(src) + "</p>") //nolint:gosec // escaped
	}
	return template.HTML(b.String()) //nolint:gosec // goldmark's safe mode
}
