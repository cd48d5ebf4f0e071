package web

import (
	"net/http"
)

// headAsGet answers HEAD like GET without a body, on every GET route
// (RFC 9110 §9.3.2): uptime monitors, CDNs, link checkers and Statuspage
// clients probe with HEAD. The router sees a GET, so a route added later
// cannot forget HEAD.
func headAsGet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		get := new(http.Request)
		*get = *r
		get.Method = http.MethodGet
		next.ServeHTTP(bodyless{w}, get)
	})
}

// bodyless sends the status and headers and drops the body.
type bodyless struct{ http.ResponseWriter }

func (b bodyless) Write(p []byte) (int, error) { return len(p), nil }

// Unwrap lets http.ResponseController reach the connection.
func (b bodyless) Unwrap() http.ResponseWriter { return b.ResponseWriter }
