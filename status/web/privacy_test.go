package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/webhook"
)

// marker is in everything private: what operators see names it.
const marker = "MARKER7f3a"

// No GET route of the public listener lets a private thing out without an
// admin token: the test walks the router, with the operators' surfaces
// (health details naming a rejected config's target and the config file's
// path, metrics labelled by check, an unhealthy reason) full of markers.
func TestNoPrivateMarkerOnPublicRoutes(t *testing.T) {
	snap, st := fixture(t)
	wh := webhook.New(webhook.Options{Store: st, Logger: slog.New(slog.DiscardHandler), PerClient: 5})
	s, err := New(Options{Site: config.Site{Title: "Acme Status", URL: "https://status.acme.test", TimeZone: "UTC", Location: time.UTC},
		SiteID: "acme", Store: st, Logger: slog.New(slog.DiscardHandler), Webhooks: wh,
		Admin:  &Admin{Tokens: []AdminToken{{Name: "ops", Hash: store.HashToken(writeToken)}}},
		Health: func() (bool, string) { return false, "store commit failing: /srv/" + marker + "/outpost.db: no space" },
		Details: func() any {
			return map[string]any{"config": map[string]string{"file": "/etc/" + marker + ".yaml", "last_reload_error": "ftp://internal-db." + marker + ":5432/secret"}}
		},
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `outpost_probe_runs_total{check="`+marker+`-check",outcome="up"} 1`+"\n")
		})})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	for _, path := range getPaths(t, s) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if strings.Contains(rec.Body.String(), marker) {
			t.Errorf("GET %s (no token) shows a private marker: %.300s", path, rec.Body.String())
		}
		for k, v := range rec.Header() {
			if strings.Contains(k+strings.Join(v, ","), marker) {
				t.Errorf("GET %s: header %s shows a private marker", path, k)
			}
		}
	}
	// With an admin token, and on the operators' listener, they are there.
	for _, tc := range []struct {
		h     http.Handler
		token string
	}{{h, writeToken}, {s.OperatorsHandler(), ""}} {
		for _, path := range []string{"/metrics", "/api/v1/health"} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, req)
			if rec.Code != 200 || !strings.Contains(rec.Body.String(), marker) {
				t.Errorf("%s with token %q: %d", path, tc.token, rec.Code)
			}
		}
	}
}

// Who posted an update (the admin token's name) is for the audit log:
// no public surface (the page, incident pages, history, feeds, /api/v1,
// /api/v2) shows it.
func TestUpdateAuthorIsNotPublic(t *testing.T) {
	snap, st := fixture(t)
	ids := map[string]bool{}
	for _, list := range [][]*status.Incident{snap.Incidents, snap.History, snap.Recent} {
		for _, inc := range list {
			ids[inc.ID] = true
			for i := range inc.Updates {
				inc.Updates[i].Author = "token-" + marker
			}
		}
	}
	if len(ids) < 2 {
		t.Fatalf("only %d incidents in the fixture", len(ids))
	}
	s, err := New(Options{Site: config.Site{Title: "Acme Status", URL: "https://status.acme.test", TimeZone: "UTC", Location: time.UTC},
		SiteID: "acme", Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	paths := getPaths(t, s)
	for id := range ids {
		paths = append(paths, "/incidents/"+id)
	}
	for _, path := range paths {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if strings.Contains(rec.Body.String(), marker) {
			i := strings.Index(rec.Body.String(), marker)
			t.Errorf("GET %s shows who posted: …%s…", path, rec.Body.String()[max(i-120, 0):i+len(marker)])
		}
	}
}
