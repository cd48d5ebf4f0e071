package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/statuspage"
)

// readPaths are the machine-readable surfaces rendered per snapshot.
var readPaths = []string{
	"/api/v2/summary.json", "/api/v2/status.json", "/api/v2/components.json", "/api/v2/incidents.json",
	"/api/v2/incidents/unresolved.json", "/api/v2/scheduled-maintenances.json",
	"/api/v2/scheduled-maintenances/upcoming.json", "/api/v2/scheduled-maintenances/active.json",
	"/feed.rss", "/feed.atom", "/feed.json", "/maintenance.ics",
}

// readSurfaces renders the Statuspage API, feeds, calendar and badges.
func (s *Server) readSurfaces(next *site, snap *status.Snapshot, pc *prepCache) error {
	bodies, err := statuspage.New(s.site(), snap).Bodies()
	if err != nil {
		return err
	}
	for path, b := range bodies {
		next.surfaces[path] = pc.body(path, b, "application/json", CachePage)
	}
	es := statuspage.FeedEntries(s.site(), snap)
	// The history aliases (as on Statuspage) carry their own rel=self.
	for _, f := range []struct {
		path  string
		build func(*status.Snapshot, []statuspage.FeedEntry, string) ([]byte, error)
		ctype string
	}{{"/feed.rss", s.rss, "application/rss+xml; charset=utf-8"}, {"/history.rss", s.rss, "application/rss+xml; charset=utf-8"},
		{"/feed.atom", s.atom, "application/atom+xml; charset=utf-8"}, {"/history.atom", s.atom, "application/atom+xml; charset=utf-8"}} {
		b, err := f.build(snap, es, f.path)
		if err != nil {
			return err
		}
		next.surfaces[f.path] = pc.body(f.path, b, f.ctype, CachePage)
	}
	jf, err := s.jsonFeed(es)
	if err != nil {
		return err
	}
	next.surfaces["/feed.json"] = pc.body("/feed.json", jf, "application/feed+json", CachePage)
	next.surfaces["/maintenance.ics"] = pc.body("/maintenance.ics", s.ics(snap), "text/calendar; charset=utf-8", CachePage)
	// A group's badge, unless a component has the same id (it wins).
	ids := make(map[string]bool, len(snap.Components))
	for _, c := range snap.Components {
		ids[c.ID] = true
	}
	for _, g := range snap.Groups {
		key := "/badge/" + g.ID + ".svg"
		if g.ID == "" || g.Name == "" || ids[g.ID] {
			continue
		}
		if _, taken := next.surfaces[key]; taken {
			continue
		}
		next.surfaces[key] = pc.built(key, badgeInputs(g.Name, g.Status, g.Stale, g.NoData),
			func() []byte { return groupBadge(g) }, "image/svg+xml", CacheBadge)
	}
	// Badges are per component: rebuilt only when what they show changed.
	for _, c := range snap.Components {
		key := "/badge/" + c.ID + ".svg"
		b := badgeSet{status: pc.built(key, badgeInputs(c.Name, c.Status, c.Stale, c.NoData),
			func() []byte { return statusBadge(c) }, "image/svg+xml", CacheBadge)}
		u := snap.Uptime[c.ID]
		for i, w := range uptimeWindows() {
			v, ok := u.Windows[w]
			if !ok {
				v = -1
			}
			// An uptime badge shows the window and the figure, not the
			// component: every component with the same figure shares one
			// response (20,000 copies of a few SVGs at 5,000 components).
			shown := sharedUptime + w + "\x00" + strconv.FormatFloat(v, 'g', -1, 64)
			b.uptime[i] = pc.built(shown, shown, func() []byte { return uptimeBadge(w, v) }, "image/svg+xml", CacheBadge)
		}
		next.badges[c.ID] = b
	}
	return nil
}

// site is what the public representation needs of the site.
func (s *Server) site() statuspage.Site {
	return statuspage.Site{ID: s.o.SiteID, Name: s.o.Site.Title, URL: s.o.Site.URL, TimeZone: s.o.Site.TimeZone, Location: s.o.Site.Location}
}

// sharedUptime starts the cache keys of uptime badges, which are shared by
// figure rather than kept per route.
const sharedUptime = "uptime\x00"

// badgeInputs is what a status badge shows, as a cache key.
func badgeInputs(name string, st status.ComponentStatus, stale, noData bool) string {
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	return name + "\x00" + string(st) + flag(stale) + flag(noData)
}

func (s *Server) badge(c echo.Context) error {
	id, ok := strings.CutSuffix(c.Param("file"), ".svg")
	return s.serveBadge(c, func(st *site) *Prepared {
		if !ok {
			return nil
		}
		return st.badge(id)
	})
}

func (s *Server) uptimeBadge(c echo.Context) error {
	w := c.QueryParam("window")
	if w == "" {
		w = "30d"
	}
	known := false
	for _, x := range uptimeWindows() {
		known = known || x == w
	}
	if !known {
		badgeBadWindow.ServeHTTP(c.Response(), c.Request())
		return nil
	}
	return s.serveBadge(c, func(st *site) *Prepared { return st.uptimeBadge(c.Param("component"), w) })
}

// serveBadge serves the badge find picks from the live site; the badge
// is looked up, not named by a route built per request.
func (s *Server) serveBadge(c echo.Context, find func(*site) *Prepared) error {
	cur := s.current.Load()
	if cur == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "starting up")
	}
	p := find(cur)
	if p == nil {
		badgeNotFound.ServeHTTP(c.Response(), c.Request())
		return nil
	}
	p.ServeHTTP(c.Response(), c.Request())
	return nil
}
