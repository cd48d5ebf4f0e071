package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// routeSample fills a route's parameters with values that exist in the
// test fixture.
var routeSample = strings.NewReplacer(":file", "api.svg", ":component", "api", ":page", "2", ":id", "inc-4", ":check", "api-1")

// getPaths walks the router: every GET route, with its parameters filled
// (a static route gets a real hashed asset), so a route added later is
// covered by the tests that use it.
func getPaths(t *testing.T, s *Server) []string {
	t.Helper()
	var out []string
	for _, r := range s.e.Routes() {
		if r.Method != http.MethodGet {
			continue
		}
		path := routeSample.Replace(r.Path)
		if strings.HasPrefix(path, "/static/") {
			for p := range s.assets {
				path = p
				break
			}
		}
		out = append(out, path)
	}
	if len(out) < 20 {
		t.Fatalf("only %d GET routes walked", len(out))
	}
	return out
}

// Every GET route answers HEAD with the status and headers of GET and no
// body: the test walks the router, so a route added later is covered.
func TestHeadOnEveryGetRoute(t *testing.T) {
	s, _ := subscriptionServer(t, 5)
	h := s.Handler()
	for _, path := range getPaths(t, s) {
		do := func(method string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, path, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			req.Header.Set("Authorization", "Bearer "+readToken)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec
		}
		get, head := do(http.MethodGet), do(http.MethodHead)
		if head.Code == http.StatusMethodNotAllowed || head.Code != get.Code {
			t.Errorf("HEAD %s: %d, GET %d", path, head.Code, get.Code)
		}
		if head.Body.Len() != 0 {
			t.Errorf("HEAD %s has a body of %d bytes", path, head.Body.Len())
		}
		for k, v := range get.Header() {
			if k == "Date" || (k == "Content-Length" && head.Header().Get(k) == "") {
				continue // HEAD may leave out a length the server computed
			}
			if hv := head.Header()[k]; strings.Join(hv, ",") != strings.Join(v, ",") {
				t.Errorf("HEAD %s: %s is %q, GET has %q", path, k, hv, v)
			}
		}
	}
}
