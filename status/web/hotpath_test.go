package web

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/config"
)

// TestServingAllocatesAlmostNothing: a request for a prepared response
// costs the chain (preflight, HEAD, security headers, router, recovery)
// at most one allocation beyond what net/http makes for every request
// (the header map, reused here): echo's recovery middleware's closure.
// Echo built a closure for each of its middlewares on every request.
func TestServingAllocatesAlmostNothing(t *testing.T) {
	if raceOn {
		t.Skip("the race detector changes what allocates")
	}
	s, _ := testServer(t)
	h := s.Handler()
	etag := s.current.Load().page.GzipETag
	for _, tc := range []struct {
		name, path string
		hdr        []string
		code       int
	}{
		{"page", "/", []string{"Accept-Encoding", "gzip"}, http.StatusOK},
		{"page-plain", "/", nil, http.StatusOK},
		{"page-304", "/", []string{"Accept-Encoding", "gzip", "If-None-Match", etag}, http.StatusNotModified},
		{"summary", "/api/v2/summary.json", []string{"Accept-Encoding", "gzip"}, http.StatusOK},
		{"badge", "/badge/api.svg", []string{"Accept-Encoding", "gzip"}, http.StatusOK},
		{"behind-proxy", "/", []string{"Accept-Encoding", "gzip", "X-Forwarded-For", "198.51.100.7"}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			w := &codeWriter{discard: discard{h: http.Header{}}}
			h.ServeHTTP(w, req)
			if w.code != tc.code {
				t.Fatalf("status %d, want %d", w.code, tc.code)
			}
			allocs := testing.AllocsPerRun(500, func() {
				clear(w.h)
				h.ServeHTTP(w, req)
			})
			if allocs > 1 {
				t.Errorf("%.1f allocations per request, want at most 1", allocs)
			}
		})
	}
}

// codeWriter is a discard that keeps the status.
type codeWriter struct {
	discard
	code int
}

func (c *codeWriter) WriteHeader(code int) { c.code = code }

// TestUntrustedProxyWarning: X-Forwarded-For while no proxy is trusted is
// logged once (not per request), a present but empty header is nothing,
// and with trusted proxies there is nothing to warn of.
func TestUntrustedProxyWarning(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted bool
		xff     []string
		want    int
	}{
		{"untrusted", false, []string{"198.51.100.7", "198.51.100.8", "198.51.100.9"}, 1},
		{"empty header", false, []string{""}, 0},
		{"no header", false, nil, 0},
		{"trusted", true, []string{"198.51.100.7"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap, st := fixture(t)
			var logs strings.Builder
			o := Options{Site: config.Site{Title: "Acme Status", TimeZone: "UTC", Location: time.UTC}, SiteID: "acme", Store: st,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			if tc.trusted {
				_, n, _ := net.ParseCIDR("192.0.2.0/24")
				o.TrustedProxies = []*net.IPNet{n}
			}
			s, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Update(snap); err != nil {
				t.Fatal(err)
			}
			h := s.Handler()
			for _, xff := range tc.xff {
				if r := get(t, h, "/", "X-Forwarded-For", xff); r.StatusCode != http.StatusOK {
					t.Fatalf("status %d", r.StatusCode)
				}
			}
			if got := strings.Count(logs.String(), "trusted_proxies is empty"); got != tc.want {
				t.Errorf("%d warnings, want %d:\n%s", got, tc.want, logs.String())
			}
		})
	}
}
