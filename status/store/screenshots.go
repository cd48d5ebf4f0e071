package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ShotsKept is how many screenshots of failed browser runs a check keeps;
// older ones go, and all go with the raw results' retention.
const ShotsKept = 5

// Screenshot is one kept screenshot's place, without its bytes.
type Screenshot struct {
	At    time.Time `json:"at"`
	Bytes int       `json:"bytes"`
}

// putScreenshot keeps a failed run's screenshot in the local file under
// timeKey(at), a function of the run alone, so the writer and the readers
// agree without the raw result's key; it drops the check's oldest beyond
// ShotsKept.
func putScreenshot(tx *bolt.Tx, check string, at time.Time, png []byte) error {
	b, err := tx.Bucket(bucketShots).CreateBucketIfNotExists([]byte(check))
	if err != nil {
		return err
	}
	if err := b.Put(timeKey(at), png); err != nil {
		return err
	}
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	for ; n > ShotsKept; n-- {
		if k, _ := c.First(); k != nil {
			if err := c.Delete(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Screenshots lists a check's kept screenshots, newest first (from the
// local file: the ones this node took).
func (s *Store) Screenshots(check string) ([]Screenshot, error) {
	var out []Screenshot
	err := s.viewLocal(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketShots).Bucket([]byte(check))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			out = append(out, Screenshot{At: keyTime(k), Bytes: len(v)})
		}
		return nil
	})
	return out, err
}

// ScreenshotAt is the PNG a check kept for the run at at.
func (s *Store) ScreenshotAt(check string, at time.Time) ([]byte, error) {
	var png []byte
	err := s.viewLocal(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketShots).Bucket([]byte(check))
		if b == nil {
			return fmt.Errorf("screenshot of %s: %w", check, ErrNotFound)
		}
		v := b.Get(timeKey(at))
		if v == nil {
			return fmt.Errorf("screenshot of %s at %s: %w", check, at.Format(time.RFC3339Nano), ErrNotFound)
		}
		png = append([]byte(nil), v...)
		return nil
	})
	return png, err
}
