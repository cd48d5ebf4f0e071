package probes

import (
	"hash/fnv"
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

// stagger returns a check's stable offset within its interval, rounded down
// to the slot resolution so that checks sharing a slot share a cron entry.
func stagger(name string, interval, res time.Duration) time.Duration {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	off := time.Duration(mix64(h.Sum64()) % uint64(interval))
	if res > 0 {
		off -= off % res
	}
	return off
}

// mix64 is splitmix64's finalizer. FNV-1a alone barely changes its high bits
// between names that differ in the last character ("api-01", "api-02"), so
// such checks clustered in a few slots; mixing spreads them evenly.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
