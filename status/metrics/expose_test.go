package metrics

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// fill reports a run of each of checks checks (a down one too for every
// tenth, a degraded one for every seventh) and a snapshot of components
// components, some in outage, one without data.
func fill(m *Metrics, checks, components int, name func(int) string) {
	for i := range checks {
		run := func(o probes.Outcome, d time.Duration) {
			m.ObserveRun("http", probes.Report{Check: name(i), Result: probes.Result{Outcome: o, Latency: d}})
		}
		run(probes.Up, time.Duration(i)*time.Microsecond)
		if i%10 == 0 {
			run(probes.Down, 5*time.Second)
		}
		if i%7 == 0 {
			run(probes.Degraded, 1500*time.Millisecond)
		}
	}
	snap := &status.Snapshot{}
	for i := range components {
		st := []status.ComponentStatus{status.Operational, status.MajorOutage, status.UnderMaintenance}[i%3]
		snap.Components = append(snap.Components, status.ComponentView{ID: name(i) + "-c", Status: st, NoData: i == 4})
	}
	m.ObserveSnapshot(snap)
}

// discard is a ResponseWriter that keeps the status and headers and counts
// the body's bytes.
type discard struct {
	h    http.Header
	code int
	n    int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(code int)        { d.code = code }
func (d *discard) Write(b []byte) (int, error) { d.n += len(b); return len(b), nil }

// A scrape of 5,000 checks' series made a constant metric, its protobuf
// copy and label pairs for each, all alive until the body was written:
// 7.4 MiB allocated a scrape (gzip, as Go's client and Prometheus ask),
// the spike that set the process's peak RSS. The text exposition writes
// those families from the numbers.
func TestScrapeAllocatesAboutItsBytes(t *testing.T) {
	m := New(Options{Version: "test"})
	fill(m, 5000, 50, func(i int) string { return fmt.Sprintf("check-%05d", i) })
	h := m.Handler(nil)
	scrape := func() *discard {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		r.Header.Set("Accept-Encoding", "gzip")
		d := &discard{h: http.Header{}}
		h.ServeHTTP(d, r)
		return d
	}
	scrape()
	// Two collections empty the pool of gzip writers, as the collections
	// between two of Prometheus's scrapes do: the writer is counted.
	runtime.GC()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	d := scrape()
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("a scrape of 5,000 checks and 50 components allocates %.2f MiB (%d bytes out)", float64(allocated)/(1<<20), d.n)
	if d.code != 0 && d.code != http.StatusOK || d.n == 0 {
		t.Fatalf("scrape: status %d, %d bytes", d.code, d.n)
	}
	if !raceOn && allocated > 3<<19 {
		t.Errorf("a scrape of 5,000 checks allocates %.1f MiB (limit 1.5)", float64(allocated)/(1<<20))
	}
}

// The text exposition is byte for byte promhttp's over the whole registry
// (the runtime's and the process's own series aside, which move between
// two scrapes), with and without gzip, a location or not, for names that
// need escaping; other formats and a collector's error are promhttp's.
func TestStreamedExpositionIsPromhttps(t *testing.T) {
	odd := []string{`plain`, `quo"te`, `back\slash`, "new\nline", `ünïcode-✓`, `a`, `a-`, `z`}
	name := func(i int) string { return odd[i%len(odd)] + fmt.Sprint(i/len(odd)) }
	for _, tc := range []struct {
		name, location, accept, encoding string
		failing                          bool
	}{
		{name: "text", accept: ""},
		{name: "text gzip", accept: "text/plain", encoding: "gzip"},
		{name: "text at a location", location: "ams", encoding: "deflate, gzip;q=0.5"},
		{name: "gzip refused", location: "ams", encoding: "gzip;q=0, identity"},
		{name: "any coding: identity first", encoding: "*"},
		{name: "gzip refused by name beside any", encoding: "*, gzip;q=0"},
		{name: "identity preferred", encoding: "identity;q=1, gzip;q=0.5"},
		{name: "gzip preferred", encoding: "gzip;q=0.5, identity;q=0.4"},
		{name: "coding in capitals, which promhttp does not fold", encoding: "GZIP"},
		{name: "q in capitals", encoding: "gzip;Q=0.5"},
		{name: "spaces around q's equals", encoding: "gzip;q = 0.5"},
		{name: "an empty first part", encoding: ", gzip"},
		{name: "q above one", encoding: "gzip;q=1.5"},
		{name: "junk after the coding", encoding: "gzip x"},
		{name: "a parameter after q", encoding: "gzip;q=0.5;level=1, identity"},
		{name: "every coding refused", encoding: "identity;q=0, *;q=0"},
		{name: "protobuf", accept: "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"},
		{name: "openmetrics asked, text given", accept: "application/openmetrics-text;version=1.0.0"},
		{name: "a collector's error", failing: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Version: "test", Location: tc.location,
				Outbox: func() (map[string]store.Depth, error) {
					return map[string]store.Depth{"ops-slack": {Pending: 2, Oldest: time.Unix(100, 0)}}, nil
				}, Now: func() time.Time { return time.Unix(160, 0) }}
			if tc.failing {
				o.Subscribers = func() (map[store.SubKind]map[store.SubState]int, error) { return nil, errors.New("disk gone") }
			}
			m := New(o)
			fill(m, 60, 12, name)
			m.ObserveDelivery("ops-slack", "ok")
			get := func(h http.Handler) (*httptest.ResponseRecorder, string) {
				r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				r.Header.Set("Accept", tc.accept)
				r.Header.Set("Accept-Encoding", tc.encoding)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				return rec, stable(t, rec)
			}
			got, gotBody := get(m.Handler(nil))
			want, wantBody := get(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
			for _, k := range []string{"Content-Type", "Content-Encoding"} {
				if got.Header().Get(k) != want.Header().Get(k) {
					t.Errorf("%s %q, promhttp's %q", k, got.Header().Get(k), want.Header().Get(k))
				}
			}
			if got.Code != want.Code || gotBody != wantBody {
				t.Errorf("status %d, promhttp's %d; body:\n%s\npromhttp's:\n%s", got.Code, want.Code, gotBody, wantBody)
			}
			if tc.failing || tc.location != "" || strings.HasPrefix(gotBody, "protobuf") {
				return
			}
			for _, series := range []string{`outpost_probe_runs_total{check="quo\"te0",outcome="up"} 1`,
				`outpost_probe_last_duration_seconds{check="new\nline0"} 3e-06`, `outpost_component_status{component="back\\slash0-c",status="under_maintenance"} 1`} {
				if !strings.Contains(gotBody, series+"\n") {
					t.Errorf("no %s in:\n%s", series, gotBody)
				}
			}
		})
	}
}

// stable is a response's body, unzipped, without the runtime's and the
// process's series (which move between two scrapes); a protobuf body is
// compared whole but for those, so it is kept as its length only.
func stable(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	body := rec.Body.Bytes()
	if rec.Header().Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(rec.Header().Get("Content-Type"), "protobuf") {
		return fmt.Sprintf("protobuf, %t", len(body) > 1000)
	}
	var out strings.Builder
	for l := range strings.SplitSeq(string(body), "\n") {
		series := strings.TrimPrefix(strings.TrimPrefix(l, "# HELP "), "# TYPE ")
		if !strings.HasPrefix(series, "go_") && !strings.HasPrefix(series, "process_") {
			out.WriteString(l + "\n")
		}
	}
	return out.String()
}
