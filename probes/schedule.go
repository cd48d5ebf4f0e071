package probes

import (
	"slices"
	"time"
)

// slotSchedule fires every interval at a fixed offset from the Unix epoch.
// robfig/cron's @every rounds to whole seconds and starts counting from
// when the entry was added; this one has sub-second offsets that are stable
// across restarts, so checks stay spread the same way.
type slotSchedule struct {
	interval time.Duration
	offset   time.Duration // in [0, interval)
}

// Next returns the first firing time strictly after t.
func (s slotSchedule) Next(t time.Time) time.Time {
	p := s.Prev(t)
	return p.Add(s.interval)
}

// Prev returns the latest firing time at or before t: the run's due time.
func (s slotSchedule) Prev(t time.Time) time.Time {
	n := t.UnixNano() - int64(s.offset)
	r := n % int64(s.interval)
	if r < 0 {
		r += int64(s.interval)
	}
	return time.Unix(0, t.UnixNano()-r).UTC()
}

// Spread gives each interval job its offset within its interval: the
// jobs of one interval in name order, evenly apart, each rounded down to
// res (0: not rounded).
//
// Name order, not a hash of the name: a commit's results then belong to
// checks whose keys are neighbours in the store (check states and roll-up
// series are keyed by check name), so a commit rewrites a few pages
// instead of about one per result. At 3,000 checks and 100 results an
// entry that is 3.2× less apply time (status/machine
// BenchmarkApply/3000-checks, scattered=true against false), and every
// member of a cluster applies every member's results.
//
// The offsets are stable across restarts of one configuration. Adding or
// removing checks moves those after them in name order: by about the share
// of the interval the added checks take before them (ten added before ten
// others move those by half an interval). A run then comes up to one
// interval early or late once, after the reload.
//
// A cluster's members compute them over the whole configuration (every
// check, wherever it runs), so a check has the same offset everywhere and
// its locations' phases keep its runs apart (SchedulerOptions.Offsets).
func Spread(jobs []Job, res time.Duration) map[string]time.Duration {
	byInterval := map[time.Duration][]string{}
	for _, j := range jobs {
		if j.Schedule == "" && j.Interval > 0 {
			byInterval[j.Interval] = append(byInterval[j.Interval], j.Name)
		}
	}
	out := make(map[string]time.Duration, len(jobs))
	for interval, names := range byInterval {
		slices.Sort(names)
		for i, name := range names {
			off := time.Duration(int64(interval) / int64(len(names)) * int64(i))
			if res > 0 {
				off -= off % res
			}
			out[name] = off
		}
	}
	return out
}
