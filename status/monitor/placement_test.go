package monitor

import (
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/config"
)

// Where a check runs in a cluster, and at which phase.
func TestPlacement(t *testing.T) {
	cfg := &config.Config{Cluster: &config.Cluster{Nodes: []config.ClusterNode{
		{ID: "ams", Location: "eu-west"}, {ID: "nyc", Location: "us-east"}, {ID: "sgp", Location: "ap-southeast"}}}}
	http := func(locs ...string) config.Check {
		return config.Check{Name: "api-1", Interval: 9 * time.Second, Locations: locs, Spec: probes.Spec{Kind: "http"}}
	}
	for _, tc := range []struct {
		name  string
		cfg   *config.Config
		check config.Check
		here  string
		run   bool
		phase time.Duration
	}{
		{"a single node", &config.Config{}, http(), "", true, 0},
		{"first of three (sorted)", cfg, http(), "ap-southeast", true, 0},
		{"second of three", cfg, http(), "eu-west", true, 3 * time.Second},
		{"third of three", cfg, http(), "us-east", true, 6 * time.Second},
		{"not one of its locations", cfg, http("eu-west", "us-east"), "ap-southeast", false, 0},
		{"second of its two", cfg, http("eu-west", "us-east"), "us-east", true, 4500 * time.Millisecond},
		{"a heartbeat is read everywhere", cfg, config.Check{Name: "nightly", Interval: 10 * time.Second, Spec: probes.Spec{Kind: "heartbeat"}}, "us-east", true, 0},
	} {
		run, phase := placement(tc.cfg, tc.check, tc.here)
		if run != tc.run || phase != tc.phase {
			t.Errorf("%s: run %v at %s, want %v at %s", tc.name, run, phase, tc.run, tc.phase)
		}
	}
}

// A check's locations look at it apart, whatever else each runs: the
// offset in its interval is spread over the whole configuration, not over
// the checks one location runs. Before, a check limited to eu-west that
// sorts first moved api there to the second of two places, and eu-west
// and us-east both ran api at +15 s, together.
func TestLocationsRunACheckApart(t *testing.T) {
	cfg := &config.Config{Cluster: &config.Cluster{Nodes: []config.ClusterNode{
		{ID: "ams", Location: "eu-west"}, {ID: "nyc", Location: "us-east"}}}}
	check := func(name string, locs ...string) config.Check {
		return config.Check{Name: name, Interval: 30 * time.Second, Locations: locs, Spec: probes.Spec{Kind: "http"}}
	}
	cfg.Checks = []config.Check{check("api"), check("aaa-internal", "eu-west")}
	at := map[string]time.Duration{}
	for _, loc := range []string{"eu-west", "us-east"} {
		jobs, offsets := jobsAt(cfg, loc)
		for _, j := range jobs {
			if j.Name == "api" {
				at[loc] = (offsets[j.Name] + j.Phase) % j.Interval
			}
		}
	}
	if gap := (at["us-east"] - at["eu-west"] + 30*time.Second) % (30 * time.Second); gap != 15*time.Second {
		t.Errorf("api runs at +%s from eu-west and +%s from us-east: %s apart, want 15s", at["eu-west"], at["us-east"], gap)
	}
}
