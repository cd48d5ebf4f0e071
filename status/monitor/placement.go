package monitor

import (
	"slices"
	"time"

	"github.com/outpost-status/outpost/probes"
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

// jobsAt are the checks the node at location here runs (placement) and
// every check's offset in its interval, spread over the whole
// configuration: each location gives a check the same offset whatever else
// it runs, so its locations' phases keep their runs apart.
func jobsAt(cfg *config.Config, here string) ([]probes.Job, map[string]time.Duration) {
	var jobs, all []probes.Job
	for _, c := range cfg.Checks {
		j := probes.Job{Name: c.Name, Probe: c.Probe, Interval: c.Interval, Schedule: c.Schedule, Timeout: c.Timeout}
		all = append(all, j)
		if run, phase := placement(cfg, c, here); run {
			j.Phase = phase
			jobs = append(jobs, j)
		}
	}
	for _, c := range cfg.Canaries { // every location's own
		j := probes.Job{Name: c.Name, Probe: c.Probe, Interval: c.Interval, Schedule: c.Schedule, Timeout: c.Timeout}
		all, jobs = append(all, j), append(jobs, j)
	}
	return jobs, probes.Spread(all, 0)
}
