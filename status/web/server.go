package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/static"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/statuspage"
	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/webhook"
)

// Options configures the web server.
type Options struct {
	Site   config.Site
	SiteID string
	Store  *store.Store
	// Log is the one way in for durable changes (Store itself on one
	// node, raft in a cluster). Default Store.
	Log    store.Log
	Logger *slog.Logger
	// TrustedProxies are the only peers whose X-Forwarded-For is believed.
	TrustedProxies []*net.IPNet
	// Health reports liveness for /healthz: ok, or the reason it is not.
	Health func() (ok bool, reason string)
	// Ready, when set, is what the public /healthz answers instead:
	// whether readers should be sent here (a cluster member cut off from
	// the others is alive, but not ready). The operators' /healthz stays
	// liveness, so an orchestrator does not restart a node that is cut off.
	Ready func() (ok bool, reason string)
	// Refresh is how often, in seconds, the page's script reloads the page
	// while its tab is visible and nobody has touched it (0: never). Not a
	// meta refresh: that reloads under a reader's feet (WCAG 2.2.1).
	Refresh int
	// Metrics serves /metrics (Prometheus); nil: not served.
	Metrics http.Handler
	// Details is the body of /api/v1/health; nil: not served.
	Details func() any
	// Admin enables the admin API; nil: not served.
	Admin *Admin
	// Heartbeats takes push checks' beats (/api/v1/heartbeat/{token},
	// POST, or GET for crontabs, and .../fail); nil: not served.
	Heartbeats *probes.Beats
	// ShareBeats (a cluster): a beat is a replicated setting written to
	// Log; every member takes it from there, so all judge the same beats.
	ShareBeats bool
	// Peer serves the signed health summary to peer Outposts; nil: none.
	Peer http.Handler
	// Webhooks serves public webhook subscriptions; nil: not served.
	Webhooks *webhook.Service
	// Email takes the subscribe page's email form; nil: the page shows
	// no form and POST /subscribe is not served.
	Email EmailSubscriber
	// Follow are the social accounts /subscribe lists (public channels'
	// profile_url).
	Follow []Profile
	// Now is the clock of what the server decides and records (held
	// announcements, audit entries); default time.Now.
	Now func() time.Time
}

// Server serves the public surfaces.
type Server struct {
	o        Options
	e        *echo.Echo
	r        *renderer
	assets   map[string]*Prepared // by hashed URL path
	current  atomic.Pointer[site]
	renders  atomic.Uint64
	notFound *Prepared
	contract func() (*Prepared, error) // /api/openapi.json, converted on first request

	lazy     *pages       // pages rendered on demand
	prep     *prepCache   // the live site's responses across renders
	apiFrags apiFragments // /api/v1/status's component objects across renders
	// offered is the newest snapshot handed over (Offer); wake tells Run.
	offered  atomic.Pointer[status.Snapshot]
	wake     chan struct{}
	renderMu sync.Mutex // one render of the live site at a time
	// The snapshot times of the last full render of the read surfaces and
	// of the page (under renderMu).
	surfacesAt, pageAt time.Time
	// rmu guards the render counters: offeredN counts Offer calls,
	// renderedN the last one Run has served; rendered signals it.
	rmu                 sync.Mutex
	rendered            *sync.Cond
	offeredN, renderedN uint64
	running             bool
	// swapped signals (capacity one, coalescing) that Update put a new
	// site in place: the static export follows what is served this way.
	swapped chan struct{}
	// warnedXFF is when the last "X-Forwarded-For from an untrusted peer"
	// warning was logged (unix nanos).
	warnedXFF atomic.Int64
}

// New parses templates and assets (failing fast) and sets up routes.
func New(o Options) (*Server, error) {
	if o.Log == nil {
		o.Log = o.Store
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	files, err := static.Assets()
	if err != nil {
		return nil, fmt.Errorf("load assets: %w", err)
	}
	s := &Server{o: o, assets: map[string]*Prepared{}, lazy: newPages(), wake: make(chan struct{}, 1), prep: newPrepCache(),
		swapped: make(chan struct{}, 1)}
	s.rendered = sync.NewCond(&s.rmu)
	for _, a := range files {
		s.assets[a.Path] = Prepare(a.Body, a.ContentType, CacheAsset)
	}
	urls := assetURLs{CSS: files["style.css"].Path, JS: files["outpost.js"].Path, Favicon: files["favicon.svg"].Path}
	s.r, err = newRenderer(siteView{Title: o.Site.Title, URL: o.Site.URL, Description: o.Site.Description, TimeZone: o.Site.TimeZone, Member: o.Site.Member},
		o.Site.Location, urls, o.Refresh)
	if err != nil {
		return nil, err
	}
	s.notFound = s.errorResponse(http.StatusNotFound, "Not found", "There is nothing at this address.")
	// Converting the contract costs ~25 ms and 2.8 MB; most servers (and
	// every export and test) never serve it.
	s.contract = sync.OnceValues(openAPI)
	s.e = s.routes()
	return s, nil
}

// Renders counts snapshot renders (each renders every prepared response).
func (s *Server) Renders() uint64 { return s.renders.Load() }

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ipExtractor(s.o.TrustedProxies)
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.o.Logger.Error("panic in handler", "path", c.Request().URL.Path, "error", err, "stack", string(stack))
			// Logged here with its stack; the error handler answers a plain 500.
			return echo.NewHTTPError(http.StatusInternalServerError, "Something went wrong on our side.")
		},
	}))
	e.GET("/", s.route("/"))
	e.GET("/api/v1/status", s.route("/api/v1/status"))
	e.GET("/api/v1/status.json", s.route("/api/v1/status"))
	for _, p := range readPaths {
		e.GET(p, s.route(p))
	}
	e.GET("/history.rss", s.route("/history.rss"))
	e.GET("/history.atom", s.route("/history.atom"))
	e.GET("/badge/:file", s.badge)
	e.GET("/badge/:component/uptime.svg", s.uptimeBadge)
	e.GET("/history/:page", s.history)
	e.GET("/incidents/:id", s.incident)
	e.GET("/history", s.history)
	e.GET("/healthz", s.healthz)
	e.GET("/api/openapi.json", func(c echo.Context) error {
		p, err := s.contract()
		if err != nil {
			return err
		}
		p.ServeHTTP(c.Response(), c.Request())
		return nil
	})
	// The operators' surfaces name checks, targets and files: on the public
	// listener only an admin token (read-only will do) sees them.
	if s.o.Admin != nil {
		auth := tokenAuth(s.o.Admin, newFailLimiter())
		if s.o.Details != nil {
			e.GET("/api/v1/health", s.details, auth)
		}
		if s.o.Metrics != nil {
			e.GET("/metrics", echo.WrapHandler(s.o.Metrics), auth)
		}
	}
	if s.o.Heartbeats != nil {
		(&heartbeatRoom{beats: s.o.Heartbeats, share: s.o.ShareBeats, changes: s.o.Log, now: s.o.Now}).routes(e)
	}
	if s.o.Peer != nil {
		e.GET("/api/v1/peer", echo.WrapHandler(s.o.Peer))
	}
	// 5 at once, then one every 12 s per client: a person needs one. The
	// form and the JSON API share it.
	emailLim := newAddrLimiter(12*time.Second, 5)
	if s.o.Webhooks != nil || s.o.Email != nil {
		(&subscriptionsRoom{wh: s.o.Webhooks, st: s.o.Store, changes: s.o.Log, now: s.o.Now, admin: s.o.Admin,
			email: s.o.Email, emailLim: emailLim, site: s, logger: s.o.Logger}).routes(e)
	}
	if s.o.Webhooks != nil || s.o.Email != nil {
		(&leaveRoom{st: s.o.Store, changes: s.o.Log, pages: s.r, now: s.o.Now}).routes(e)
	}
	if s.o.Email != nil {
		(&confirmRoom{st: s.o.Store, changes: s.o.Log, pages: s.r, now: s.o.Now, site: s.o.Site.URL}).routes(e)
		(&manageRoom{st: s.o.Store, changes: s.o.Log, pages: s.r, site: s, now: s.o.Now, siteURL: s.o.Site.URL, logger: s.o.Logger}).routes(e)
	}
	if s.o.Admin != nil {
		(&adminRoom{admin: s.o.Admin, st: s.o.Store, changes: s.o.Log, now: s.o.Now, site: s}).routes(e)
	}
	(&subscribeRoom{s: s, lim: emailLim}).routes(e)
	e.GET("/static/:file", s.asset)
	return e
}

// ipExtractor trusts X-Forwarded-For only from configured proxies; with
// none configured the peer address is the client.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

func (s *Server) route(path string) echo.HandlerFunc {
	return func(c echo.Context) error {
		cur := s.current.Load()
		if cur == nil {
			return echo.NewHTTPError(http.StatusServiceUnavailable, "starting up")
		}
		cur.route(path).ServeHTTP(c.Response(), c.Request())
		return nil
	}
}

func (s *Server) incident(c echo.Context) error {
	id := c.Param("id")
	cur := s.current.Load()
	if cur == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "starting up")
	}
	if p, ok := cur.incidents[id]; ok {
		p.ServeHTTP(c.Response(), c.Request())
		return nil
	}
	p, err := s.lazy.get("incident:"+id, func() ([]byte, error) {
		inc, err := s.o.Store.Incident(id)
		if err != nil {
			return nil, err
		}
		return s.r.incident(inc, statuspage.ComponentNames(cur.snap))
	})
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("There is no incident %q.", id))
	}
	if err != nil {
		return err
	}
	p.ServeHTTP(c.Response(), c.Request())
	return nil
}

func (s *Server) asset(c echo.Context) error {
	p, ok := s.assets["/static/"+c.Param("file")]
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "no such asset")
	}
	p.ServeHTTP(c.Response(), c.Request())
	return nil
}

func (s *Server) healthz(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", CacheNone)
	verdict := s.o.Health
	if s.o.Ready != nil {
		verdict = s.o.Ready
	}
	if verdict == nil {
		return sizedJSON(c, http.StatusOK, map[string]string{"status": "ok"})
	}
	// A bare verdict: the reason can name files and checks, and is for
	// operators (/api/v1/health, or /healthz on the operators' listener).
	if ok, _ := verdict(); !ok {
		return sizedJSON(c, http.StatusServiceUnavailable, map[string]string{"status": "unhealthy"})
	}
	return sizedJSON(c, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) details(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", CacheNone)
	return c.JSON(http.StatusOK, s.o.Details())
}

// OperatorsHandler serves the operators' surfaces without a token, for the
// operators' listener (loopback by default): /metrics, /api/v1/health, and
// /healthz with the reason when unhealthy.
func (s *Server) OperatorsHandler() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	if s.o.Details != nil {
		e.GET("/api/v1/health", s.details)
	}
	if s.o.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(s.o.Metrics))
	}
	mountProfiles(e)
	e.GET("/healthz", func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", CacheNone)
		if s.o.Health != nil {
			if ok, reason := s.o.Health(); !ok {
				return sizedJSON(c, http.StatusServiceUnavailable, map[string]string{"status": "unhealthy", "reason": reason})
			}
		}
		return sizedJSON(c, http.StatusOK, map[string]string{"status": "ok"})
	})
	return headAsGet(securityHeaders(e))
}

// handleError answers JSON to API clients and an HTML page to browsers;
// internal errors are logged once here and shown without details.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code, msg := http.StatusInternalServerError, "Something went wrong on our side."
	var he *echo.HTTPError
	if errors.Is(err, store.ErrLogUnavailable) {
		// A cluster choosing a leader, or this member cut off from the
		// others: no fault of the request's, and soon over (or another
		// member answers).
		c.Response().Header().Set("Retry-After", "5")
		code, msg = http.StatusServiceUnavailable, "This status page's monitors are choosing a leader, or this one is cut off from the others: "+
			"the change could not be confirmed. Check whether it took effect, then try again in a few seconds."
		s.o.Logger.Warn("a write found no leader", "path", c.Request().URL.Path, "error", err)
	} else if errors.As(err, &he) {
		code, msg = he.Code, fmt.Sprint(he.Message)
		if code == http.StatusNotFound && msg == http.StatusText(http.StatusNotFound) {
			msg = "There is nothing at this address."
		}
	} else {
		s.o.Logger.Error("request failed", "path", c.Request().URL.Path, "error", err)
	}
	if wantsJSON(c.Request()) {
		c.Response().Header().Set("Cache-Control", CacheNone)
		body := map[string]any{"code": code, "message": msg}
		var f fieldErr
		if he != nil && errors.As(he.Internal, &f) && f != "" {
			body["field"] = string(f)
		}
		_ = c.JSON(code, map[string]any{"error": body})
		return
	}
	if code == http.StatusNotFound && msg == "There is nothing at this address." {
		s.notFound.ServeHTTP(c.Response(), c.Request())
		return
	}
	s.errorResponse(code, http.StatusText(code), msg).ServeHTTP(c.Response(), c.Request())
}

func (s *Server) errorResponse(code int, title, msg string) *Prepared {
	p := Prepare(s.r.errorPage(title, msg), "text/html; charset=utf-8", CacheNone)
	p.Status = code
	return p
}

func wantsJSON(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		return true
	}
	a := r.Header.Get("Accept")
	return strings.Contains(a, "application/json") && !strings.Contains(a, "text/html")
}

// compile-time check that Prepared is an http.Handler.
var _ http.Handler = (*Prepared)(nil)
