package status

import (
	"reflect"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
)

// region is one location's state of a check for the snapshot tests.
func region(s CheckStatus, o probes.Outcome, lat time.Duration, at time.Time) *CheckState {
	return &CheckState{Status: s, LastAt: at, LastOutcome: o, LastLatency: lat, LastReason: probes.ReasonTimeout,
		LastMessage: "dial tcp 10.1.2.3:443: i/o timeout"}
}

// The snapshot's per-location view of a component, built from the
// checks' regional states: each location's status by its own
// thresholds, the slowest last run there that reached the target, and
// the locations a check fails from while its vote says up.
func TestSnapshotLocations(t *testing.T) {
	now := t0.Add(time.Hour)
	fresh := now.Add(-10 * time.Second)
	old := now.Add(-5 * time.Minute) // more than StaleAfter (2) periods of 30 s
	edge := now.Add(-time.Minute)    // exactly StaleAfter periods
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	upAll := func(l1, l2, l3 int) map[string]*CheckState {
		return map[string]*CheckState{"ap-southeast": region(CheckUp, probes.Up, ms(l1), fresh),
			"eu-west": region(CheckUp, probes.Up, ms(l2), fresh), "us-east": region(CheckUp, probes.Up, ms(l3), fresh)}
	}
	lv := func(loc string, s ComponentStatus, lat int) LocationView {
		return LocationView{Location: loc, Status: s, Latency: ms(lat), HasLatency: true, LastChecked: fresh}
	}
	for _, tc := range []struct {
		name      string
		locations []string
		regional  Regional
		limit     []string // api-2's locations
		checks    map[string]*CheckState
		want      []LocationView
		wantReg   []string
	}{
		{name: "single node", checks: map[string]*CheckState{
			"api-1": {Status: CheckUp, LastAt: fresh, LastOutcome: probes.Up, LastLatency: ms(80)}}},
		{name: "every location up: the slowest check there", locations: threeLocations, checks: map[string]*CheckState{
			"api-1": {Status: CheckUp, LastAt: fresh, Regions: upAll(120, 40, 90)},
			"api-2": {Status: CheckUp, LastAt: fresh, Regions: upAll(100, 45, 300)}},
			want: []LocationView{lv("ap-southeast", Operational, 120), lv("eu-west", Operational, 45), lv("us-east", Operational, 300)}},
		{name: "regional: one check down from eu-west", locations: threeLocations, checks: map[string]*CheckState{
			"api-1": {Status: CheckUp, LastAt: fresh, Regional: []string{"eu-west"}, Regions: map[string]*CheckState{
				"ap-southeast": region(CheckUp, probes.Up, ms(120), fresh), "eu-west": region(CheckDown, probes.Down, ms(5000), fresh),
				"us-east": region(CheckUp, probes.Up, ms(90), fresh)}},
			"api-2": {Status: CheckUp, LastAt: fresh, Regions: upAll(100, 45, 80)}},
			want:    []LocationView{lv("ap-southeast", Operational, 120), lv("eu-west", PartialOutage, 45), lv("us-east", Operational, 90)},
			wantReg: []string{"eu-west"}},
		{name: "regional ignored: no marker, the measurements stay", locations: threeLocations, regional: RegionalIgnore, checks: map[string]*CheckState{
			"api-1": {Status: CheckUp, LastAt: fresh, Regional: []string{"eu-west"}, Regions: map[string]*CheckState{
				"ap-southeast": region(CheckUp, probes.Up, ms(120), fresh), "eu-west": region(CheckDown, probes.Down, ms(5000), fresh),
				"us-east": region(CheckUp, probes.Up, ms(90), fresh)}},
			"api-2": {Status: CheckUp, LastAt: fresh, Regions: upAll(100, 45, 80)}},
			want: []LocationView{lv("ap-southeast", Operational, 120), lv("eu-west", PartialOutage, 45), lv("us-east", Operational, 90)}},
		{name: "every check down from a location: no latency there", locations: threeLocations, checks: map[string]*CheckState{
			"api-1": {Status: CheckDown, LastAt: fresh, Regions: map[string]*CheckState{
				"ap-southeast": region(CheckUp, probes.Up, ms(120), fresh), "eu-west": region(CheckDown, probes.Down, ms(5000), fresh),
				"us-east": region(CheckDegraded, probes.Degraded, ms(900), fresh)}},
			"api-2": {Status: CheckDown, LastAt: fresh, Regions: map[string]*CheckState{
				"ap-southeast": region(CheckUp, probes.Up, ms(130), fresh), "eu-west": region(CheckDown, probes.Down, ms(5000), fresh),
				"us-east": region(CheckUp, probes.Up, ms(95), fresh)}}},
			want: []LocationView{lv("ap-southeast", Operational, 130), {Location: "eu-west", Status: MajorOutage, LastChecked: fresh},
				lv("us-east", DegradedPerformance, 900)}},
		{name: "no data yet, and a silent location is stale", locations: threeLocations, checks: map[string]*CheckState{
			"api-1": {Status: CheckUp, LastAt: fresh, Regions: map[string]*CheckState{
				"ap-southeast": region(CheckUp, probes.Up, ms(120), fresh), "eu-west": region(CheckUnknown, probes.Up, ms(40), fresh),
				"us-east": region(CheckUp, probes.Up, ms(90), old)}},
			"api-2": {Status: CheckUp, LastAt: fresh, Regions: map[string]*CheckState{
				"ap-southeast": region(CheckUp, probes.Up, ms(10), fresh), "eu-west": region(CheckUnknown, probes.Up, ms(10), fresh),
				"us-east": region(CheckUp, probes.Up, ms(10), fresh)}}},
			want: []LocationView{lv("ap-southeast", Operational, 120), {Location: "eu-west", Status: Operational, NoData: true, Latency: ms(40), HasLatency: true, LastChecked: fresh},
				{Location: "us-east", Status: Operational, Stale: true, Latency: ms(90), HasLatency: true, LastChecked: fresh}}},
		// silent's bound is now computed once per check (now less
		// StaleAfter periods) rather than per location: the edge is kept.
		{name: "silent exactly StaleAfter periods: not stale", locations: threeLocations, checks: map[string]*CheckState{
			"api-1": {Status: CheckUp, LastAt: fresh, Regions: map[string]*CheckState{
				"ap-southeast": region(CheckUp, probes.Up, ms(120), fresh), "eu-west": region(CheckUp, probes.Up, ms(40), fresh),
				"us-east": region(CheckUp, probes.Up, ms(90), edge)}},
			"api-2": {Status: CheckUp, LastAt: fresh, Regions: upAll(100, 45, 80)}},
			want: []LocationView{lv("ap-southeast", Operational, 120), lv("eu-west", Operational, 45), lv("us-east", Operational, 90)}},
		{name: "a nanosecond longer: stale", locations: threeLocations, checks: map[string]*CheckState{
			"api-1": {Status: CheckUp, LastAt: fresh, Regions: map[string]*CheckState{
				"ap-southeast": region(CheckUp, probes.Up, ms(120), fresh), "eu-west": region(CheckUp, probes.Up, ms(40), fresh),
				"us-east": region(CheckUp, probes.Up, ms(90), edge.Add(-time.Nanosecond))}},
			"api-2": {Status: CheckUp, LastAt: fresh, Regions: upAll(100, 45, 80)}},
			want: []LocationView{lv("ap-southeast", Operational, 120), lv("eu-west", Operational, 45),
				{Location: "us-east", Status: Operational, Stale: true, Latency: ms(90), HasLatency: true, LastChecked: fresh}}},
		{name: "a check limited to some locations", locations: threeLocations, limit: []string{"eu-west", "us-east"}, checks: map[string]*CheckState{
			"api-1": {Status: CheckUp, LastAt: fresh, Regions: upAll(120, 40, 90)},
			"api-2": {Status: CheckUp, LastAt: fresh, Regions: upAll(0, 45, 300)}},
			want: []LocationView{lv("ap-southeast", Operational, 120), lv("eu-west", Operational, 45), lv("us-east", Operational, 300)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := voteModel(Voting{Regional: tc.regional})
			m.Locations = tc.locations
			m.Checks[1].Locations = tc.limit
			if tc.limit != nil { // ap-southeast does not run api-2: its result there is not counted
				delete(tc.checks["api-2"].Regions, "ap-southeast")
			}
			st := NewState()
			st.Checks = tc.checks
			s := NewEngine(m, st).Snapshot(now, t0)
			c := s.Components[0]
			if c.ID != "api" {
				t.Fatalf("first component %s", c.ID)
			}
			if !reflect.DeepEqual(c.Locations, tc.want) {
				t.Errorf("locations\n got %+v\nwant %+v", c.Locations, tc.want)
			}
			if !reflect.DeepEqual(c.Regional, tc.wantReg) {
				t.Errorf("regional %v, want %v", c.Regional, tc.wantReg)
			}
			if g := s.Groups[0].Components[0]; !reflect.DeepEqual(g.Locations, c.Locations) || !reflect.DeepEqual(g.Regional, c.Regional) {
				t.Errorf("the group's copy differs: %+v", g)
			}
			if tc.locations == nil && (s.Components[1].Locations != nil || s.Components[2].Locations != nil) {
				t.Errorf("a single node has locations: %+v", s.Components)
			}
		})
	}
}
