package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
)

var clusterLocations = []string{"ap-southeast", "eu-west", "us-east"}

// clusterServer is a server showing a three-location cluster's state,
// reached through the real engine and store: API fails from eu-west only
// (regional trouble), Database from eu-west and us-east (an outage and
// its incident). Check names and raw messages carry the private marker.
func clusterServer(t *testing.T) *Server {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "cluster.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	apiCheck, dbCheck := "api-"+marker, "db-"+marker
	m := &status.Model{AutoIncidents: true, ReopenWindow: time.Minute, Locations: clusterLocations,
		Components: []status.ComponentDef{{ID: "api", Name: "Public API", Group: "Platform"}, {ID: "db", Name: "Database"}},
		Checks: []status.CheckDef{{Name: apiCheck, Component: "api", FailureThreshold: 1, SuccessThreshold: 1, Every: 30 * time.Second},
			{Name: dbCheck, Component: "db", FailureThreshold: 1, SuccessThreshold: 1, Every: 30 * time.Second}}}
	e := status.NewEngine(m, nil)
	now := t0.Add(-time.Minute)
	apply := func(rs ...status.CheckResult) {
		now = now.Add(2 * time.Second)
		ch := e.Apply(status.Batch{Now: now, Results: rs})
		if _, err := st.Apply(store.Entry{At: now, Step: store.NewStep(ch, e.State(), nil)}); err != nil {
			t.Fatal(err)
		}
	}
	res := func(c, loc string, o probes.Outcome, ms int) status.CheckResult {
		r := probes.Result{Outcome: o, Reason: probes.ReasonOK, Latency: time.Duration(ms) * time.Millisecond}
		if o != probes.Up {
			r.Reason, r.Message = probes.ReasonConnectionRefused, "dial tcp 10.9.8.7:443 ("+marker+"): connection refused"
		}
		return status.CheckResult{Check: c, At: now.Add(2 * time.Second), Location: loc, Result: r}
	}
	apply(res(apiCheck, "ap-southeast", probes.Up, 180), res(apiCheck, "eu-west", probes.Up, 35), res(apiCheck, "us-east", probes.Up, 95),
		res(dbCheck, "ap-southeast", probes.Up, 12), res(dbCheck, "eu-west", probes.Up, 11), res(dbCheck, "us-east", probes.Up, 13))
	apply(res(apiCheck, "eu-west", probes.Down, 5000), res(dbCheck, "eu-west", probes.Down, 5000), res(dbCheck, "us-east", probes.Down, 5000))
	apply(res(apiCheck, "ap-southeast", probes.Up, 181), res(apiCheck, "us-east", probes.Up, 96), res(dbCheck, "ap-southeast", probes.Up, 14))
	snap := e.Snapshot(now, t0.Add(-time.Hour))
	if snap.Components[1].Status != status.MajorOutage || len(snap.Incidents) != 1 || snap.Components[0].Status != status.DegradedPerformance {
		t.Fatalf("the fixture did not reach its state: %+v, %d incidents", snap.Components, len(snap.Incidents))
	}
	s, err := New(Options{Site: config.Site{Title: "Acme Status", URL: "https://status.acme.test", TimeZone: "UTC", Location: time.UTC},
		SiteID: "acme", Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	return s
}

// /api/v1/status in a cluster: each component's status and latency at
// every location, and the locations of regional trouble; the document
// (static/openapi.yaml) describes the answer.
func TestClusterStatusAPI(t *testing.T) {
	s := clusterServer(t)
	h := s.Handler()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/v1/status", nil)
	h.ServeHTTP(rec, req)
	var got struct {
		Components []struct {
			ID        string `json:"id"`
			Status    string `json:"status"`
			Locations []struct {
				Location  string   `json:"location"`
				Status    string   `json:"status"`
				LatencyMS *float64 `json:"latency_ms"`
				Stale     bool     `json:"stale"`
			} `json:"locations"`
			FailingFrom []string `json:"failing_from"`
		} `json:"components"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got.Components) != 2 {
		t.Fatalf("%d %v: %s", rec.Code, err, rec.Body)
	}
	type loc struct {
		status  string
		latency float64 // -1: null
	}
	want := map[string]map[string]loc{
		"api": {"ap-southeast": {"operational", 181}, "eu-west": {"major_outage", -1}, "us-east": {"operational", 96}},
		"db":  {"ap-southeast": {"operational", 14}, "eu-west": {"major_outage", -1}, "us-east": {"major_outage", -1}},
	}
	wantFailing := map[string]string{"api": "eu-west", "db": ""}
	for _, c := range got.Components {
		if len(c.Locations) != 3 {
			t.Errorf("%s: %d locations, want 3: %s", c.ID, len(c.Locations), rec.Body)
			continue
		}
		for i, l := range c.Locations {
			w := want[c.ID][l.Location]
			lat := -1.0
			if l.LatencyMS != nil {
				lat = *l.LatencyMS
			}
			if l.Location != clusterLocations[i] || l.Status != w.status || lat != w.latency || l.Stale {
				t.Errorf("%s at %s: %s, %v ms, stale %v; want %s, %v ms (in the cluster's order)", c.ID, l.Location, l.Status, lat, l.Stale, w.status, w.latency)
			}
		}
		if f := strings.Join(c.FailingFrom, ","); f != wantFailing[c.ID] {
			t.Errorf("%s fails from %q, want %q", c.ID, f, wantFailing[c.ID])
		}
	}
	router, err := legacy.NewRouter(contractOf(t, h))
	if err != nil {
		t.Fatal(err)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 rec.Code, Header: rec.Header(), Body: http.NoBody}
	in.SetBodyBytes(rec.Body.Bytes())
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("the cluster's /api/v1/status is not what the document says: %v", err)
	}
}

// The page in a cluster: each component's latency at every location,
// server-rendered, and regional trouble in public words.
func TestClusterPage(t *testing.T) {
	page := body(t, get(t, clusterServer(t).Handler(), "/"))
	for _, want := range []string{
		"Some regions cannot reach Public API", "unreachable from eu-west",
		"ap-southeast", "181 ms", "96 ms", "14 ms",
		"Database is unavailable",
		"unreachable from eu-west and us-east, fine from ap-southeast",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// Nothing private of a cluster's checks (their names, raw messages with
// addresses) reaches any public GET route, the per-location data included.
func TestClusterNothingPrivate(t *testing.T) {
	s := clusterServer(t)
	h := s.Handler()
	for _, path := range getPaths(t, s) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		for _, bad := range []string{marker, "10.9.8.7"} {
			if strings.Contains(rec.Body.String(), bad) {
				t.Errorf("GET %s shows %q: %.300s", path, bad, rec.Body.String())
			}
		}
	}
}
