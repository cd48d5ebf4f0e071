package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// HEAD /healthz announces the length GET sends, over a real connection
// (net/http counts a small GET body itself; HEAD has none to count).
func TestHealthzHeadLength(t *testing.T) {
	s, _ := testServer(t)
	for name, h := range map[string]http.Handler{"public": s.Handler(), "operators": s.OperatorsHandler()} {
		srv := httptest.NewServer(h)
		lengths := map[string]int64{}
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			req, _ := http.NewRequest(m, srv.URL+"/healthz", nil)
			r, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			lengths[m] = r.ContentLength
		}
		srv.Close()
		if lengths[http.MethodGet] <= 0 || lengths[http.MethodHead] != lengths[http.MethodGet] {
			t.Errorf("%s: HEAD Content-Length %d, GET %d", name, lengths[http.MethodHead], lengths[http.MethodGet])
		}
	}
}
