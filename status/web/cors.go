package web

import (
	"net/http"
	"strings"
)

// publicRead reports the public, cacheable read surfaces that other sites
// may fetch from a browser (Atlassian's status widget, dashboards): the
// Statuspage API, /api/v1/status, feeds, the calendar, badges, and the API
// contract (so Swagger UI on another site can load it). They get
// CORS; the admin API, the write endpoints and the pages do not.
func publicRead(path string) bool {
	switch {
	case strings.HasPrefix(path, "/api/v2/"), path == "/api/v1/status", path == "/api/v1/status.json", path == "/api/openapi.json",
		strings.HasPrefix(path, "/feed."), path == "/history.rss", path == "/history.atom",
		path == "/maintenance.ics", strings.HasPrefix(path, "/badge/"):
		return true
	}
	return false
}

// preflight answers CORS preflight requests for the public read surfaces
// (a widget that sends a custom header asks first); other OPTIONS requests
// go on to the router, which refuses them.
func preflight(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodOptions || !publicRead(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", "GET, HEAD")
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" && len(req) < 256 {
			h.Set("Access-Control-Allow-Headers", req)
		}
		h.Set("Access-Control-Max-Age", "86400")
		h.Set("Cache-Control", "public, max-age=86400")
		w.WriteHeader(http.StatusNoContent)
	})
}
