package store

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// Prune deletes roll-ups past their retention (open ones too: pruneOpen),
// at most Budget keys (one short transaction), so it never holds the
// writer lock long; after the commit, raw results and screenshots older
// than RawRetention go from the local file, at most Budget keys more
// (applyLocal). Each file has its budget: the replicated part must not
// depend on the local file. The result says whether more remain in either.
type Prune struct {
	RawRetention time.Duration `json:"raw_retention"`
	Budget       int           `json:"budget"`
}

func applyPrune(tx *bolt.Tx, p Prune, now time.Time, res *Result) error {
	deleted, more, err := prune(tx, now, p.Budget)
	res.Deleted, res.More = deleted, more
	if err != nil || deleted >= p.Budget {
		return err
	}
	n, err := pruneWriters(tx, now.Add(-WriterRetention), p.Budget-deleted)
	res.Deleted, res.More = res.Deleted+n, n == p.Budget-deleted
	return err
}

func prune(tx *bolt.Tx, now time.Time, budget int) (deleted int, more bool, err error) {
	for _, p := range []struct {
		bucket []byte
		cutoff time.Time
	}{
		{bucketHourly, now.Add(-HourlyRetention)},
		{bucketDaily, now.Add(-DailyRetention)},
	} {
		n, m, err := pruneBucket(tx.Bucket(p.bucket), timeKey(p.cutoff), budget-deleted)
		deleted += n
		more = more || m
		if err != nil || deleted >= budget {
			return deleted, more || deleted >= budget, err
		}
	}
	// Last, so a file without open roll-ups (every entry of codec 2)
	// prunes exactly as before.
	n, m, err := pruneOpen(tx, now, budget-deleted)
	return deleted + n, more || m, err
}

// pruneBucket deletes keys below cutoff in each sub-bucket of root.
func pruneBucket(root *bolt.Bucket, cutoff []byte, budget int) (int, bool, error) {
	var names [][]byte
	if err := root.ForEachBucket(func(k []byte) error { names = append(names, append([]byte(nil), k...)); return nil }); err != nil {
		return 0, false, err
	}
	deleted := 0
	for _, name := range names {
		n, more, err := pruneKeys(root.Bucket(name), cutoff, budget-deleted)
		deleted += n
		if err != nil || more {
			return deleted, more, err
		}
	}
	return deleted, false, nil
}

// pruneKeys deletes b's keys below cutoff, oldest first, at most budget;
// more: some are left.
func pruneKeys(b *bolt.Bucket, cutoff []byte, budget int) (deleted int, more bool, err error) {
	c := b.Cursor()
	for k, _ := c.First(); k != nil && string(k) < string(cutoff); k, _ = c.First() {
		if deleted >= budget {
			return deleted, true, nil
		}
		if err := c.Delete(); err != nil {
			return deleted, false, err
		}
		deleted++
	}
	return deleted, false, nil
}
