package web

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/config"
)

// TestServingAllocatesNothing: a GET of a prepared response costs the
// chain (preflight, HEAD, security headers, the direct path) no
// allocation beyond what net/http makes for every request (the header
// map, reused here). Echo built a closure for each of its middlewares on
// every request (3 allocations), and its recovery's (1) while the router
// served these.
func TestServingAllocatesNothing(t *testing.T) {
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
		{"group-badge", "/badge/platform.svg", []string{"Accept-Encoding", "gzip"}, http.StatusOK},
		{"feed", "/history.atom", []string{"Accept-Encoding", "gzip"}, http.StatusOK},
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
			if allocs > 0 {
				t.Errorf("%.1f allocations per request, want none", allocs)
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

// TestDirectAnswersAsTheRouter: every response the direct path serves is
// the one the router gives the same request, byte for byte, headers and
// all, for every route of the site and the paths beside them; and before
// the first render both answer 503.
func TestDirectAnswersAsTheRouter(t *testing.T) {
	s, _ := testServer(t)
	routerOnly := preflight(headAsGet(securityHeaders(s.untrustedProxyWarning(s.e))))
	paths := []string{"/api/v1/status.json", "/badge/nope.svg", "/badge/api", "/badge/.svg", "/badge/api.svg/",
		"/%61pi/v2/summary.json", "/api/v2/summary.json/", "/badge/api.svg?style=flat", "/badge/a%2Fb.svg", "/badge/api/uptime.svg", "/nothing"}
	for path := range s.current.Load().all() {
		paths = append(paths, path)
	}
	etag := s.current.Load().page.GzipETag
	for _, path := range paths {
		for _, tc := range []struct {
			method string
			hdr    []string
		}{
			{http.MethodGet, []string{"Accept-Encoding", "gzip"}}, {http.MethodGet, nil}, {http.MethodHead, []string{"Accept-Encoding", "gzip"}},
			{http.MethodGet, []string{"Accept-Encoding", "gzip", "If-None-Match", etag}}, {http.MethodOptions, nil},
		} {
			want, got := serveOnce(routerOnly, tc.method, path, tc.hdr), serveOnce(s.Handler(), tc.method, path, tc.hdr)
			if d := sameResponse(want, got); d != "" {
				t.Errorf("%s %s %v: %s", tc.method, path, tc.hdr, d)
			}
		}
	}
	_, st := fixture(t)
	fresh, err := New(Options{Site: config.Site{Title: "Acme Status", TimeZone: "UTC", Location: time.UTC}, Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/api/v2/summary.json", "/badge/api.svg"} {
		if r := serveOnce(fresh.Handler(), http.MethodGet, path, nil); r.Code != http.StatusServiceUnavailable {
			t.Errorf("%s before the first render: %d, want 503", path, r.Code)
		}
	}
}

func serveOnce(h http.Handler, method, path string, hdr []string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// sameResponse says how got differs from want; "" when it does not.
func sameResponse(want, got *httptest.ResponseRecorder) string {
	if got.Code != want.Code {
		return fmt.Sprintf("status %d, the router's %d", got.Code, want.Code)
	}
	if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
		return fmt.Sprintf("body of %d bytes, the router's %d", got.Body.Len(), want.Body.Len())
	}
	if !maps.EqualFunc(got.Header(), want.Header(), slices.Equal) {
		return fmt.Sprintf("headers %v, the router's %v", got.Header(), want.Header())
	}
	return ""
}
