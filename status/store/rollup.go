package store

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
)

// Roll-up retention: hourly for 30 days, daily for 400.
const (
	HourlyRetention = 30 * 24 * time.Hour
	DailyRetention  = 400 * 24 * time.Hour
)

// componentStatuses index a ComponentRollup's milliseconds.
var componentStatuses = [...]status.ComponentStatus{status.Operational, status.DegradedPerformance,
	status.PartialOutage, status.MajorOutage, status.UnderMaintenance}

// PartialWeight is how much a partial outage counts against uptime: some
// users are affected, not all.
const PartialWeight = 0.3

// ComponentRollup is the time a component spent in each status during an
// hour or a day.
type ComponentRollup struct {
	Start time.Time
	MS    [len(componentStatuses)]uint64
}

func statusIndex(s status.ComponentStatus) int {
	for i, x := range componentStatuses {
		if x == s {
			return i
		}
	}
	return 0
}

// Add counts d spent in status s.
func (r *ComponentRollup) Add(s status.ComponentStatus, d time.Duration) {
	r.MS[statusIndex(s)] += uint64(d.Milliseconds())
}

// Observed is the time with a known status outside maintenance.
func (r ComponentRollup) Observed() time.Duration {
	var ms uint64
	for i, v := range r.MS {
		if componentStatuses[i] != status.UnderMaintenance {
			ms += v
		}
	}
	return time.Duration(ms) * time.Millisecond
}

// Uptime is 1 − (major + PartialWeight·partial) / observed; -1 without data.
func (r ComponentRollup) Uptime() float64 {
	obs := r.Observed()
	if obs <= 0 {
		return -1
	}
	bad := float64(r.MS[statusIndex(status.MajorOutage)]) + PartialWeight*float64(r.MS[statusIndex(status.PartialOutage)])
	return 1 - bad/float64(obs.Milliseconds())
}

// Worst is the worst status held at all during the period.
func (r ComponentRollup) Worst() status.ComponentStatus {
	w := status.Operational
	for i, v := range r.MS {
		if v > 0 {
			w = status.Worst(w, componentStatuses[i])
		}
	}
	return w
}

func (r *ComponentRollup) encode() []byte {
	b := make([]byte, 0, 8*len(r.MS))
	for _, v := range r.MS {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b
}

func decodeComponentRollup(start time.Time, b []byte) (ComponentRollup, error) {
	r := ComponentRollup{Start: start}
	if len(b) != 8*len(r.MS) {
		return r, fmt.Errorf("corrupt component roll-up (%d bytes)", len(b))
	}
	for i := range r.MS {
		r.MS[i] = binary.BigEndian.Uint64(b[8*i:])
	}
	return r, nil
}

func checkSeries(name string) []byte   { return []byte("c:" + name) }
func componentSeries(id string) []byte { return []byte("k:" + id) }

func dayStart(t time.Time) time.Time  { return t.UTC().Truncate(24 * time.Hour) }
func hourStart(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// addCheckResult folds one result into the check's hourly and daily
// roll-ups, in their series (entries of codec 2; addOpenResult otherwise).
func addCheckResult(tx *bolt.Tx, name string, at time.Time, r probes.Result) error {
	for _, p := range checkPeriods() {
		var one CheckRollup
		one.add(r)
		if err := addToSeries(tx, p.bucket, name, p.start(at), one); err != nil {
			return err
		}
	}
	return nil
}

// checkPeriod is one of a check's roll-up periods: the series' bucket,
// the start of the period holding a time, and the retention.
type checkPeriod struct {
	bucket    []byte
	start     func(time.Time) time.Time
	retention time.Duration
}

// checkPeriods are the hour and the day, in the order of an openRecord.
func checkPeriods() [2]checkPeriod {
	return [2]checkPeriod{{bucketHourly, hourStart, HourlyRetention}, {bucketDaily, dayStart, DailyRetention}}
}

// addToSeries adds ru to the check's roll-up in bucket at start (adding
// to what is there: a roll-up is a sum, so any split of the same results
// adds up to the same bytes).
func addToSeries(tx *bolt.Tx, bucket []byte, name string, start time.Time, ru CheckRollup) error {
	b, err := tx.Bucket(bucket).CreateBucketIfNotExists(checkSeries(name))
	if err != nil {
		return err
	}
	k := timeKey(start)
	if v := b.Get(k); v != nil {
		was, err := decodeCheckRollup(start, v)
		if err != nil {
			return err
		}
		ru.merge(was)
	}
	return b.Put(k, ru.encode())
}

// addSegment spreads a component's status time over the hours and days it
// covers.
func addSegment(tx *bolt.Tx, seg status.Segment) error {
	for _, p := range []struct {
		bucket []byte
		size   time.Duration
	}{{bucketHourly, time.Hour}, {bucketDaily, 24 * time.Hour}} {
		b, err := tx.Bucket(p.bucket).CreateBucketIfNotExists(componentSeries(seg.Component))
		if err != nil {
			return err
		}
		for from := seg.From.UTC(); from.Before(seg.To); {
			start := from.Truncate(p.size)
			to := start.Add(p.size)
			if seg.To.Before(to) {
				to = seg.To
			}
			k := timeKey(start)
			var ru ComponentRollup
			if v := b.Get(k); v != nil {
				if ru, err = decodeComponentRollup(start, v); err != nil {
					return err
				}
			}
			ru.Add(seg.Status, to.Sub(from))
			if err := b.Put(k, ru.encode()); err != nil {
				return err
			}
			from = to
		}
	}
	return nil
}
