package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/outpost-status/outpost/probes"
)

// In a cluster every series about checks carries the node's location, so
// the locations' series of one check stay apart once scraped into one
// Prometheus; a single node's series have no such label.
func TestCheckSeriesCarryTheLocation(t *testing.T) {
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ location, want string }{{"eu-west", `location="eu-west"`}, {"", ""}} {
		m := New(Options{Version: "test", PerCheckHistograms: true, Location: tc.location, Now: func() time.Time { return now }})
		m.ObserveRun("http", probes.Report{Check: "api-1", Due: now, Started: now,
			Result: probes.Result{Outcome: probes.Up, Latency: 120 * time.Millisecond, Details: map[string]any{"dns_ms": 1.5}}})
		families, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, f := range families {
			if !strings.HasPrefix(f.GetName(), "outpost_probe_") {
				continue
			}
			for _, s := range f.GetMetric() {
				n++
				got := ""
				for _, l := range s.GetLabel() {
					if l.GetName() == "location" {
						got = `location="` + l.GetValue() + `"`
					}
				}
				if got != tc.want {
					t.Errorf("location %q: %s has %q, want %q", tc.location, f.GetName(), got, tc.want)
				}
			}
		}
		if n < 5 {
			t.Fatalf("only %d check series", n)
		}
		if problems, err := testutil.GatherAndLint(m.Registry); err != nil || len(problems) > 0 {
			t.Errorf("lint: %v %v", err, problems)
		}
	}
}
