package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/outpost-status/outpost/status"
)

// Voting is the `voting:` section: how the locations of a cluster decide a
// check's public status (see status/vote.go and docs/config.md).
type Voting struct {
	// Vote is majority (the default: more than half of the locations that
	// can see), any, all, or a number of locations.
	Vote string `yaml:"vote"`
	// MinLocations: fewer locations able to see confirm nothing. Default
	// 2, capped at the number a check runs from.
	MinLocations int `yaml:"min_locations"`
	// Regional is what a failure seen from a minority does publicly:
	// degraded (the default) or ignore.
	Regional string `yaml:"regional"`
}

// Locations are the cluster's locations, sorted and each once; none
// without a cluster.
func (c *Config) Locations() []string {
	if c.Cluster == nil {
		return nil
	}
	var out []string
	for _, n := range c.Cluster.Nodes {
		if n.Location != "" && !slices.Contains(out, n.Location) {
			out = append(out, n.Location)
		}
	}
	slices.Sort(out)
	return out
}

func validVote(v string) bool { return status.VoteRule(v).Valid() }

// validateVoting checks the section and each check's locations and vote.
func validateVoting(c *Config, bad badFunc) {
	v := &c.Voting
	if !validVote(v.Vote) {
		bad("voting.vote", "must be majority, any, all or a number of locations (at least 1), got %q", v.Vote)
	}
	if v.MinLocations < 0 {
		bad("voting.min_locations", "must be at least 1, got %d", v.MinLocations)
	}
	switch status.Regional(v.Regional) {
	case "", status.RegionalDegraded, status.RegionalIgnore:
	default:
		bad("voting.regional", "must be %s or %s, got %q", status.RegionalDegraded, status.RegionalIgnore, v.Regional)
	}
	locs := c.Locations()
	for i := range c.Checks {
		ch := &c.Checks[i]
		p := fmt.Sprintf("checks[%d]", i)
		if !validVote(ch.Vote) {
			bad(p+".vote", "must be majority, any, all or a number of locations (at least 1), got %q", ch.Vote)
		}
		if len(ch.Locations) == 0 {
			continue
		}
		switch {
		case ch.Kind == "heartbeat":
			bad(p+".locations", "a heartbeat check has no location: its beats reach whichever node they are sent to")
		case locs == nil:
			bad(p+".locations", "needs a cluster: section (its nodes' locations are where checks run)")
		default:
			seen := map[string]bool{}
			for j, l := range ch.Locations {
				switch {
				case !slices.Contains(locs, l):
					bad(fmt.Sprintf("%s.locations[%d]", p, j), "unknown location %q (the cluster's: %s)", l, strings.Join(locs, ", "))
				case seen[l]:
					bad(fmt.Sprintf("%s.locations[%d]", p, j), "location %q listed twice", l)
				}
				seen[l] = true
			}
		}
	}
}
