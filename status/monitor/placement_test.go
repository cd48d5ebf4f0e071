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
