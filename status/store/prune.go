package store

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// Prune deletes raw results older than now-rawRetention and roll-ups past
// their retention, at most budget keys per call (one short transaction), so
// it never holds the writer lock long. It reports whether more remain.
func (s *Store) Prune(now time.Time, rawRetention time.Duration, budget int) (deleted int, more bool, err error) {
	err = s.update(func(tx *bolt.Tx) error {
		for _, p := range []struct {
			bucket []byte
			cutoff time.Time
		}{
			{bucketResults, now.Add(-rawRetention)},
			{bucketShots, now.Add(-rawRetention)},
			{bucketHourly, now.Add(-HourlyRetention)},
			{bucketDaily, now.Add(-DailyRetention)},
		} {
			n, m, err := pruneBucket(tx.Bucket(p.bucket), timeKey(p.cutoff), budget-deleted)
			deleted += n
			more = more || m
			if err != nil || deleted >= budget {
				more = more || deleted >= budget
				return err
			}
		}
		return nil
	})
	return deleted, more, err
}

// pruneBucket deletes keys below cutoff in each sub-bucket of root.
func pruneBucket(root *bolt.Bucket, cutoff []byte, budget int) (int, bool, error) {
	var names [][]byte
	_ = root.ForEachBucket(func(k []byte) error { names = append(names, append([]byte(nil), k...)); return nil })
	deleted := 0
	for _, name := range names {
		c := root.Bucket(name).Cursor()
		for k, _ := c.First(); k != nil && string(k) < string(cutoff); k, _ = c.First() {
			if deleted >= budget {
				return deleted, true, nil
			}
			if err := c.Delete(); err != nil {
				return deleted, false, err
			}
			deleted++
		}
	}
	return deleted, false, nil
}
