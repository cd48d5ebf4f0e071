package node

import (
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/config"
)

// Whom a leader out of the vote hands over to: a member elsewhere in the
// vote with fresh results, the next one after a member that failed to
// take it; nobody while its own location is in the vote. (A reviewer
// found it always picking the first in config order, a dead member too.)
func TestPickHandOver(t *testing.T) {
	members := []config.ClusterNode{{ID: "ams", Location: "eu-west"}, {ID: "nyc", Location: "us-east"},
		{ID: "sgp", Location: "ap-southeast"}, {ID: "syd", Location: "ap-south"}}
	since := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	out := map[string]time.Time{"eu-west": since}
	all := map[string]bool{"eu-west": true, "us-east": true, "ap-southeast": true, "ap-south": true}
	for _, tc := range []struct {
		name  string
		self  config.ClusterNode
		out   map[string]time.Time
		fresh map[string]bool
		last  string
		want  string
	}{
		{"in the vote: keeps leading", members[1], out, all, "", ""},
		{"the first that can", members[0], out, all, "", "nyc"},
		{"nyc is dead (no fresh results)", members[0], out, map[string]bool{"ap-southeast": true}, "", "sgp"},
		{"after nyc failed: the next", members[0], out, all, "nyc", "sgp"},
		{"after the last failed: round again", members[0], out, all, "syd", "nyc"},
		{"every other location out", members[0], map[string]time.Time{"eu-west": since, "us-east": since, "ap-southeast": since, "ap-south": since}, all, "", ""},
	} {
		if got := pickHandOver(members, tc.self, tc.out, tc.fresh, tc.last); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
