package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discard is a ResponseWriter that keeps nothing, so the benchmark measures
// the handler rather than a recorder. Its header map is cleared and reused,
// as each benchmark's requests share one: net/http makes one per request
// whatever the handler, so neither Outpost nor a bare handler is charged
// for it.
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
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for range b.N {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkServeBare is BenchmarkServe's bare counterpart: a handler
// writing the response Outpost's whole chain wrote for the same request
// (every header, the status, the body), copied from it once. The
// difference is what the chain (router, middlewares, conditional and gzip
// choice) costs a request.
//
//	go test ./status/web -run '^$' -bench 'Serve(Bare)?$' -benchmem
func BenchmarkServeBare(b *testing.B) {
	s, _ := testServer(b)
	for _, path := range []string{"/", "/api/v2/summary.json", "/badge/api.svg"} {
		b.Run(path, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			hdr, code, body := rec.Header().Clone(), rec.Code, rec.Body.Bytes()
			bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h := w.Header()
				for k, v := range hdr {
					h[k] = v
				}
				w.WriteHeader(code)
				_, _ = w.Write(body)
			})
			w := &discard{h: http.Header{}}
			b.ReportAllocs()
			for range b.N {
				clear(w.h)
				bare.ServeHTTP(w, req)
			}
		})
	}
}
