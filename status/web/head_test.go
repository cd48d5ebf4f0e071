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

// Every GET route answers HEAD with the status and headers of GET and no
// body: the test walks the router, so a route added later is covered.
func TestHeadOnEveryGetRoute(t *testing.T) {
	s, _ := subscriptionServer(t, 5)
	h := s.Handler()
	n := 0
	for _, r := range s.e.Routes() {
		if r.Method != http.MethodGet {
			continue
		}
		n++
		path := routeSample.Replace(r.Path)
		if strings.HasPrefix(path, "/static/") {
			for p := range s.assets {
				path = p
				break
			}
		}
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
	if n < 20 {
		t.Fatalf("only %d GET routes walked", n)
	}
}
