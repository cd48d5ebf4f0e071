package monitor

import (
	"slices"
	"time"

	"github.com/outpost-status/outpost/status/config"
)

// placement says whether the node at location here runs c, and at which
// phase. In a cluster a check runs from its locations (every one by
// default), location i of n at i·interval/n: the target is looked at n
// times per interval in all, and a first failure anywhere is confirmed by
// the others at once (status/vote.go). A heartbeat is read wherever it is.
func placement(cfg *config.Config, c config.Check, here string) (bool, time.Duration) {
	locs := c.Locations
	if len(locs) == 0 {
		locs = cfg.Locations()
	}
	i := slices.Index(locs, here)
	switch {
	case here == "" || c.Kind == "heartbeat" || len(locs) == 0:
		return true, 0
	case i < 0:
		return false, 0
	}
	return true, time.Duration(i) * (c.Interval / time.Duration(len(locs)))
}
