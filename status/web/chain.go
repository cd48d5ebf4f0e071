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
// of a prepared response allocated three times, not once).
func (s *Server) Handler() http.Handler {
	h := http.Handler(s.e)
	if len(s.o.TrustedProxies) == 0 {
		h = s.untrustedProxyWarning(h)
	}
	return preflight(headAsGet(securityHeaders(h)))
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
		// The key as net/http stores a request's: Get would canonicalize it.
		if xff := r.Header["X-Forwarded-For"]; len(xff) > 0 && xff[0] != "" {
			now, last := time.Now().UnixNano(), s.warnedXFF.Load()
			if now-last > int64(10*time.Minute) && s.warnedXFF.CompareAndSwap(last, now) {
				s.o.Logger.Warn("requests carry X-Forwarded-For but trusted_proxies is empty: clients behind the proxy share its address for rate limits; set trusted_proxies",
					slog.String("peer", r.RemoteAddr))
			}
		}
		next.ServeHTTP(w, r)
	})
}
