package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The text path answers in the coding promhttp would, for any
// Accept-Encoding: promhttp's answer over an empty registry is the
// reference. When it accepts neither identity nor gzip, promhttp logs
// "error getting writer" and answers identity; negotiateCoding says ""
// and Handler hands the request to promhttp, which does just that. An
// earlier hand-written parser gave gzip to "*", to "gzip;Q=0.5" and to
// ", gzip", and identity to "gzip;q=1.5".
func TestCodingIsPromhttps(t *testing.T) {
	var refused errorsLogged
	ph := promhttp.HandlerFor(prometheus.NewRegistry(), promhttp.HandlerOpts{ErrorLog: &refused})
	for _, lines := range [][]string{
		{}, {"gzip"}, {"*"}, {"gzip;q=1.0"}, {"gzip; q=0.5"}, {"identity;q=0.5, gzip;q=1.0"},
		{"gzip;Q=0.5"}, {"gzip;q = 0.5"}, {"gzip;level=1;q=0.5"}, {"gzip;q=0.5;level=1, identity"},
		{", gzip"}, {"gzip,,identity;q=0"}, {"gzip;q=1.5"}, {"gzip;q=.5"}, {"gzip;q=0.5x, identity"},
		{"gzip x"}, {"foo;bar, gzip"}, {"*, gzip;q=0"}, {"GZIP"}, {"identity;q=0, *;q=0"},
		{"identity;q=0.1", "gzip"}, // two lines: promhttp reads both
	} {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		for _, l := range lines {
			r.Header.Add("Accept-Encoding", l)
		}
		rec, before := httptest.NewRecorder(), refused
		ph.ServeHTTP(rec, r)
		want := rec.Header().Get("Content-Encoding")
		switch {
		case refused > before:
			want = ""
		case want == "":
			want = "identity"
		}
		if got := negotiateCoding(r); got != want {
			t.Errorf("Accept-Encoding %q: %q, promhttp's %q (status %d)", lines, got, want, rec.Code)
		}
	}
}

// errorsLogged counts what promhttp logs.
type errorsLogged int

func (e *errorsLogged) Println(...any) { *e++ }
