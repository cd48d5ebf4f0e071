package web

import (
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/statuspage"
)

// Renders that change only freshness reuse what shows none of it.
// surfacesMaxAge bounds the reuse of the read surfaces (the Statuspage
// API, feeds, calendar, badges): should visibleChange ever miss a change
// they show, it is out within a minute, as history is. pageMaxAge bounds
// the page's: its "last checked" may lag the newest result by that much
// (never the other way), while /api/v1/status is fresh at every render.
// At 5,000 components the page is megabytes to build and compress.
const (
	surfacesMaxAge = time.Minute
	pageMaxAge     = 30 * time.Second
)

// freshnessOnly reports a render whose snapshot differs from the one served
// only in freshness (times of checks and of rendering), within maxAge of
// at, the last full render of what would be reused.
func (s *Server) freshnessOnly(served *site, snap *status.Snapshot, at time.Time, maxAge time.Duration) bool {
	if served == nil || visibleChange(served.snap, snap) {
		return false
	}
	age := snap.GeneratedAt.Sub(at)
	return age >= 0 && age < maxAge
}

// site is every prepared response for one snapshot.
type site struct {
	snap *status.Snapshot
	// page ("/") and api ("/api/v1/status") are rendered for each site.
	page, api *Prepared
	// surfaces are the read surfaces by route (readSurfaces), group badges
	// among them. A render that only moved freshness shares the served
	// site's maps as they are: no site writes to a map once it is served.
	surfaces map[string]*Prepared
	// badges are each component's badges by its id (shared like surfaces):
	// five routes a component kept by key were 25,000 keys built at every
	// full render at 5,000 components, in a map of 25,500 routes per site.
	badges    map[string]badgeSet
	incidents map[string]*Prepared
}

// badgeSet is a component's status badge and its uptime badges, in the
// order of uptimeWindows.
type badgeSet struct {
	status *Prepared
	uptime [4]*Prepared
}

// badge is the component's status badge, or else the group's of that id;
// nil when there is none.
func (st *site) badge(id string) *Prepared {
	if b, ok := st.badges[id]; ok {
		return b.status
	}
	return st.surfaces["/badge/"+id+".svg"]
}

// uptimeBadge is the component's uptime badge over window; nil when
// there is none.
func (st *site) uptimeBadge(id, window string) *Prepared {
	b, ok := st.badges[id]
	if i := slices.Index(uptimeWindows(), window); ok && i >= 0 {
		return b.uptime[i]
	}
	return nil
}

// route is the prepared response for path; nil when there is none.
func (st *site) route(path string) *Prepared {
	switch path {
	case "/":
		return st.page
	case "/api/v1/status":
		return st.api
	}
	if rest, ok := strings.CutPrefix(path, "/badge/"); ok {
		if id, w, ok := strings.Cut(rest, "/uptime.svg?window="); ok {
			return st.uptimeBadge(id, w)
		}
		if id, ok := strings.CutSuffix(rest, ".svg"); ok && !strings.Contains(id, "/") {
			return st.badge(id)
		}
	}
	return st.surfaces[path]
}

// all yields every route of the site with its response.
func (st *site) all() iter.Seq2[string, *Prepared] {
	return func(yield func(string, *Prepared) bool) {
		if !yield("/", st.page) || !yield("/api/v1/status", st.api) {
			return
		}
		for k, p := range st.surfaces {
			if !yield(k, p) {
				return
			}
		}
		for id, b := range st.badges {
			if !yield("/badge/"+id+".svg", b.status) {
				return
			}
			for i, w := range uptimeWindows() {
				if !yield("/badge/"+id+"/uptime.svg?window="+w, b.uptime[i]) {
					return
				}
			}
		}
	}
}

// Update renders every public response for snap and swaps them in at once.
func (s *Server) Update(snap *status.Snapshot) error {
	s.renderMu.Lock()
	s.prep.begin()
	next, err := s.render(snap, s.prep, true)
	s.prep.end()
	s.renderMu.Unlock()
	if err != nil {
		return err
	}
	if s.offered.Load() == nil {
		s.offered.Store(snap)
	}
	s.current.Store(next)
	s.lazy.setVersion(pagesVersion(s.o.Store.IncidentsVersion(), snap, snap.GeneratedAt.In(s.o.Site.Location).Format("2006-01")))
	s.renders.Add(1)
	select {
	case s.swapped <- struct{}{}:
	default:
	}
	return nil
}

// Rendered signals that a newer snapshot is served (read it with Served).
// Signals coalesce: one receive may stand for several renders.
func (s *Server) Rendered() <-chan struct{} { return s.swapped }

// Served is the snapshot the live site was rendered from; nil before the
// first render.
func (s *Server) Served() *status.Snapshot {
	if cur := s.current.Load(); cur != nil {
		return cur.snap
	}
	return nil
}

// render prepares every public response for snap without publishing it,
// through pc (the live site's cache, or a fresh one for a copy aside).
// For the live site (under renderMu), what shows nothing of freshness is
// reused from the site served when only freshness moved: the read surfaces
// for up to surfacesMaxAge, the page for up to pageMaxAge. A copy aside
// is rendered whole.
func (s *Server) render(snap *status.Snapshot, pc *prepCache, live bool) (*site, error) {
	var served *site
	if live {
		served = s.current.Load()
	}
	next := &site{snap: snap, incidents: map[string]*Prepared{}}
	indexDone := make(chan *Prepared, 1)
	settlePage := func([]byte) {}
	if s.freshnessOnly(served, snap, s.pageAt, pageMaxAge) {
		indexDone <- served.page
		pc.keep("/")
	} else {
		index, settle, err := s.r.indexBody(snap)
		if err != nil {
			return nil, err
		}
		if live {
			s.pageAt = snap.GeneratedAt
		}
		settlePage = settle
		// The page is the big one: compress and hash it on the other core
		// while the rest renders. Buffered, so an early return leaks nothing.
		go func() { indexDone <- pc.body("/", index, "text/html; charset=utf-8", CachePage) }()
	}
	api, settle, err := s.apiStatusBody(snap)
	if err != nil {
		return nil, err
	}
	next.api = pc.body("/api/v1/status", api, "application/json", CachePage)
	settle(next.api.Body)
	if s.freshnessOnly(served, snap, s.surfacesAt, surfacesMaxAge) {
		// The read surfaces show nothing of freshness: the last ones stand,
		// and so does everything of theirs the cache holds.
		next.surfaces, next.badges = served.surfaces, served.badges
		pc.keepAll()
	} else {
		// Made at their size: at 5,000 components a site has 5,000 badge sets.
		size := 16 + len(snap.Groups)
		if served != nil {
			size = max(size, len(served.surfaces))
		}
		next.surfaces = make(map[string]*Prepared, size)
		next.badges = make(map[string]badgeSet, len(snap.Components))
		if err := s.readSurfaces(next, snap, pc); err != nil {
			return nil, err
		}
		if live {
			s.surfacesAt = snap.GeneratedAt
		}
	}
	names := statuspage.IncidentNames(snap)
	// Upcoming occurrences of configured windows are in no store yet, but
	// their links are published (v2, calendar): their pages exist too.
	upcoming := make([]*status.Incident, 0, len(snap.Upcoming))
	for _, u := range snap.Upcoming {
		upcoming = append(upcoming, u.Incident())
	}
	for _, list := range [][]*status.Incident{snap.Incidents, snap.Maintenance, snap.History, upcoming} {
		for _, inc := range list {
			b, err := s.r.incident(inc, names)
			if err != nil {
				return nil, err
			}
			next.incidents[inc.ID] = pc.body("/incidents/"+inc.ID, b, "text/html; charset=utf-8", CachePage)
		}
	}
	next.page = <-indexDone
	settlePage(next.page.Body)
	return next, nil
}
