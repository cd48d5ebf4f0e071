package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discard is a ResponseWriter that keeps nothing, so the benchmark measures
// the handler rather than a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkServe measures one request through echo to a prepared response.
//
//	go test ./status/web -run '^$' -bench Serve -benchmem
func BenchmarkServe(b *testing.B) {
	s, _ := testServer(b)
	h := s.Handler()
	for _, path := range []string{"/", "/api/v2/summary.json", "/badge/api.svg"} {
		b.Run(path, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			b.ReportAllocs()
			for range b.N {
				h.ServeHTTP(&discard{h: http.Header{}}, req)
			}
		})
	}
}
