package web

import (
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Handler is the HTTP handler to serve. The security headers and the
// proxy warning wrap the router instead of being its middlewares: echo
// applies its middlewares for every request, a closure each (one request
// of a prepared response allocated three times). Prepared responses are
// answered before the router (direct), so they need no recovery: writing
// bytes held in memory cannot panic short of net/http's own abort.
func (s *Server) Handler() http.Handler {
	h := s.direct(s.e)
	if len(s.o.TrustedProxies) == 0 {
		h = s.untrustedProxyWarning(h)
	}
	return preflight(headAsGet(securityHeaders(h)))
}

// direct answers a GET of a live site's prepared response (the page, the
// read surfaces, a component's or group's status badge) itself, and
// passes every other request to the router: these are what an outage's
// crowd and every widget ask for, and the router's context, lookup and
// recovery were as much work again as writing the response
// (BenchmarkServe). Only what the router would give the same handler,
// with the same answer, is taken: an escaped path (RawPath), a site not
// yet rendered, an unknown badge go to the router.
func (s *Server) direct(router http.Handler) http.Handler {
	paths := map[string]string{"/": "/", "/api/v1/status": "/api/v1/status", "/api/v1/status.json": "/api/v1/status",
		"/history.rss": "/history.rss", "/history.atom": "/history.atom"}
	for _, p := range readPaths {
		paths[p] = p
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := s.prepared(r, paths); p != nil {
			p.ServeHTTP(w, r)
			return
		}
		router.ServeHTTP(w, r)
	})
}

// prepared is the live site's response to r when direct may serve it,
// else nil.
func (s *Server) prepared(r *http.Request, paths map[string]string) *Prepared {
	cur := s.current.Load()
	if r.Method != http.MethodGet || r.URL.RawPath != "" || cur == nil {
		return nil
	}
	if route, ok := paths[r.URL.Path]; ok {
		return cur.route(route)
	}
	// The router's /badge/:file: one segment; anything but a known
	// badge's file is its to answer.
	if file, ok := strings.CutPrefix(r.URL.Path, "/badge/"); ok && !strings.Contains(file, "/") {
		if id, ok := strings.CutSuffix(file, ".svg"); ok {
			return cur.badge(id)
		}
	}
	return nil
}

// CSP allows only same-origin files: no inline script or style anywhere.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Security header values, built once (see Prepared.ServeHTTP on why keys
// are assigned directly).
var (
	hCSP       = []string{csp}
	hNoSniff   = []string{"nosniff"}
	hAnyOrigin = []string{"*"}
)

// securityHeaders sets the CSP (whose frame-ancestors supersedes
// X-Frame-Options) and nosniff on every response. The referrer policy is a
// <meta name="referrer"> in the pages, the only responses that navigate:
// with it, a prepared response sets at most 8 header fields, which Go keeps
// in one small map group; a 9th and 10th field cost a map conversion per
// request and made serving 2.8× slower (BenchmarkServe: 1632 → 586 ns).
//
// The public read surfaces carry CORS instead of the CSP (a policy for
// documents that JSON, feeds and calendars are not); badges, SVG images a
// browser may open, keep both.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		path := r.URL.Path
		switch {
		case strings.HasPrefix(path, "/badge/"):
			h["Access-Control-Allow-Origin"] = hAnyOrigin
			h["Content-Security-Policy"] = hCSP
		case publicRead(path):
			h["Access-Control-Allow-Origin"] = hAnyOrigin
		default:
			h["Content-Security-Policy"] = hCSP
		}
		h["X-Content-Type-Options"] = hNoSniff
		next.ServeHTTP(w, r)
	})
}

// untrustedProxyWarning logs, at most every 10 minutes, that requests
// carry X-Forwarded-For while no proxy is trusted: behind a proxy every
// client then shares the proxy's address, and one client's failures limit
// them all (docs/config.md, trusted_proxies).
func (s *Server) untrustedProxyWarning(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first(r.Header, "X-Forwarded-For") != "" {
			now, last := time.Now().UnixNano(), s.warnedXFF.Load()
			if now-last > int64(10*time.Minute) && s.warnedXFF.CompareAndSwap(last, now) {
				s.o.Logger.Warn("requests carry X-Forwarded-For but trusted_proxies is empty: clients behind the proxy share its address for rate limits; set trusted_proxies",
					slog.String("peer", r.RemoteAddr))
			}
		}
		next.ServeHTTP(w, r)
	})
}
