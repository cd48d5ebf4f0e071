package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/outpost-status/outpost/status"
)

// readPaths are the machine-readable surfaces rendered per snapshot.
var readPaths = []string{
	"/api/v2/summary.json", "/api/v2/status.json", "/api/v2/components.json", "/api/v2/incidents.json",
	"/api/v2/incidents/unresolved.json", "/api/v2/scheduled-maintenances.json",
	"/api/v2/scheduled-maintenances/upcoming.json", "/api/v2/scheduled-maintenances/active.json",
	"/feed.rss", "/feed.atom", "/feed.json", "/maintenance.ics",
}

// readSurfaces renders the Statuspage API, feeds, calendar and badges.
func (s *Server) readSurfaces(next *site, snap *status.Snapshot) error {
	bodies, err := s.newV2(snap).bodies()
	if err != nil {
		return err
	}
	for path, b := range bodies {
		next.routes[path] = Prepare(b, "application/json", CachePage)
	}
	es := s.feedEntries(snap)
	rss, err := s.rss(snap, es)
	if err != nil {
		return err
	}
	atom, err := s.atom(snap, es)
	if err != nil {
		return err
	}
	jf, err := s.jsonFeed(es)
	if err != nil {
		return err
	}
	next.routes["/feed.rss"] = Prepare(rss, "application/rss+xml; charset=utf-8", CachePage)
	next.routes["/feed.atom"] = Prepare(atom, "application/atom+xml; charset=utf-8", CachePage)
	next.routes["/feed.json"] = Prepare(jf, "application/feed+json", CachePage)
	next.routes["/maintenance.ics"] = Prepare(s.ics(snap), "text/calendar; charset=utf-8", CachePage)
	for _, c := range snap.Components {
		next.routes["/badge/"+c.ID+".svg"] = Prepare(statusBadge(c), "image/svg+xml", CacheBadge)
		u := snap.Uptime[c.ID]
		for _, w := range UptimeWindows {
			v, ok := u.Windows[w]
			if !ok {
				v = -1
			}
			next.routes["/badge/"+c.ID+"/uptime.svg?window="+w] = Prepare(uptimeBadge(w, v), "image/svg+xml", CacheBadge)
		}
	}
	return nil
}

func (s *Server) badge(c echo.Context) error {
	id, ok := strings.CutSuffix(c.Param("file"), ".svg")
	return s.serveBadge(c, "/badge/"+id+".svg", ok)
}

func (s *Server) uptimeBadge(c echo.Context) error {
	w := c.QueryParam("window")
	if w == "" {
		w = "30d"
	}
	known := false
	for _, x := range UptimeWindows {
		known = known || x == w
	}
	if !known {
		badgeBadWindow.ServeHTTP(c.Response(), c.Request())
		return nil
	}
	return s.serveBadge(c, "/badge/"+c.Param("component")+"/uptime.svg?window="+w, true)
}

func (s *Server) serveBadge(c echo.Context, key string, ok bool) error {
	cur := s.current.Load()
	if cur == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "starting up")
	}
	p, found := cur.routes[key]
	if !ok || !found {
		badgeNotFound.ServeHTTP(c.Response(), c.Request())
		return nil
	}
	p.ServeHTTP(c.Response(), c.Request())
	return nil
}
