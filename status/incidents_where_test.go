package status

import (
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
)

// runAt runs check from each location (an empty one: a single node) with
// outcome o two seconds on; a failure's reason is connection refused.
func (h *harness) runAt(check string, o probes.Outcome, locs ...string) *Changes {
	h.now = h.now.Add(2 * time.Second)
	var rs []CheckResult
	for _, l := range locs {
		r := probes.Result{Outcome: o, Reason: probes.ReasonOK}
		if o != probes.Up {
			r.Reason, r.Message = probes.ReasonConnectionRefused, "dial tcp 10.1.2.3:443: refused"
		}
		rs = append(rs, CheckResult{Check: check, At: h.now, Location: l, Result: r})
	}
	return h.step(rs...)
}

// Automatic incidents say where the component fails, in public words, in
// a cluster; a single node's texts are as they were.
func TestIncidentTextsSayWhere(t *testing.T) {
	type run struct {
		check string
		o     probes.Outcome
		locs  []string
	}
	all := threeLocations
	for _, tc := range []struct {
		name      string
		locations []string
		runs      []run
		want      []string // the automatic incident's update bodies, oldest first
	}{
		{name: "single node", runs: []run{{"db-1", probes.Up, []string{""}}, {"db-1", probes.Down, []string{""}}},
			want: []string{"We are investigating connection failures affecting Database since 14:02 UTC."}},
		{name: "two of three locations", locations: all, runs: []run{
			{"db-1", probes.Up, all}, {"db-1", probes.Down, []string{"eu-west", "us-east"}}, {"db-1", probes.Up, []string{"ap-southeast"}}},
			want: []string{"We are investigating connection failures affecting Database since 14:02 UTC. " +
				"Database is unreachable from eu-west and us-east, fine from ap-southeast."}},
		{name: "another component joins", locations: all, runs: []run{
			{"db-1", probes.Up, all}, {"web-1", probes.Up, all},
			{"db-1", probes.Down, all},
			{"web-1", probes.Down, []string{"ap-southeast"}}, {"web-1", probes.Degraded, []string{"us-east"}}, {"web-1", probes.Down, []string{"eu-west"}},
			{"web-1", probes.Down, []string{"ap-southeast", "eu-west"}}, {"web-1", probes.Degraded, []string{"us-east"}}},
			want: []string{"We are investigating connection failures affecting Database since 14:02 UTC. Database is unreachable from ap-southeast, eu-west and us-east.",
				"Website is also affected: we are seeing connection failures since 14:02 UTC. Website is unreachable from ap-southeast and eu-west, degraded from us-east."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := voteModel(Voting{})
			m.Locations = tc.locations
			h := newHarness(t, m)
			for _, r := range tc.runs {
				h.runAt(r.check, r.o, r.locs...)
			}
			open := h.open()
			if len(open) != 1 {
				t.Fatalf("%d open incidents, want 1 (components %s %s)", len(open), h.comp("db"), h.comp("web"))
			}
			var got []string
			for _, u := range open[0].Updates {
				got = append(got, u.Body)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("updates\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
