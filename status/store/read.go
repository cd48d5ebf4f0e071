package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
)

// LoadState reads the engine state back: check and component state, the
// sequence, maintenance, and incidents that are open or closed within
// keepClosed (the engine's reopen window). A value that does not decode
// means the file is damaged (Open reads the same values the same way).
func (s *Store) LoadState(now time.Time, keepClosed time.Duration) (*status.State, error) {
	st := status.NewState()
	err := s.view(func(tx *bolt.Tx) error {
		if err := loadState(tx, st, func(inc *status.Incident) bool { return inc.Open() || now.Sub(inc.ResolvedAt) <= keepClosed }); err != nil {
			return s.corrupt(err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	return st, nil
}

// loadState decodes into st what the engine starts from, keeping the
// incidents keep accepts (every one is decoded).
func loadState(tx *bolt.Tx, st *status.State, keep func(*status.Incident) bool) error {
	if v := tx.Bucket(bucketMeta).Get(keyEngine); v != nil {
		var m engineMeta
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("engine meta: %w", err)
		}
		st.Seq, st.DelayedSince, st.WatchingSince = m.Seq, m.DelayedSince, m.WatchingSince
		if m.Maint != nil {
			st.Maint = m.Maint
		}
		st.ConnectivitySince = m.Connectivity
		if m.Windows != nil {
			st.Windows = m.Windows
		}
		if m.Seen != nil {
			st.Seen = m.Seen
		}
		st.Faulty = m.Faulty
	}
	if err := tx.Bucket(bucketChecks).ForEach(func(k, v []byte) error {
		cs, err := decodeCheckState(v)
		if err != nil {
			return fmt.Errorf("check %s: %w", k, err)
		}
		st.Checks[string(k)] = cs
		return nil
	}); err != nil {
		return err
	}
	if err := tx.Bucket(bucketComponents).ForEach(func(k, v []byte) error {
		var cs status.ComponentState
		if err := json.Unmarshal(v, &cs); err != nil {
			return fmt.Errorf("component %s: %w", k, err)
		}
		st.Components[string(k)] = &cs
		return nil
	}); err != nil {
		return err
	}
	return tx.Bucket(bucketIncidents).ForEach(func(k, v []byte) error {
		var inc status.Incident
		if err := json.Unmarshal(v, &inc); err != nil {
			return fmt.Errorf("incident %x: %w", k, err)
		}
		if keep(&inc) {
			st.Incidents[inc.ID] = &inc
		}
		return nil
	})
}

// IncidentsStarted returns the incidents that started in [from, to),
// newest first, reading only those (through the start index).
func (s *Store) IncidentsStarted(from, to time.Time) ([]*status.Incident, error) {
	var out []*status.Incident
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIncidents)
		c := tx.Bucket(bucketIncidentStart).Cursor()
		end := timeKey(to)
		for k, _ := c.Seek(timeKey(from)); k != nil && bytes.Compare(k[:8], end) < 0; k, _ = c.Next() {
			var inc status.Incident
			if err := json.Unmarshal(b.Get(k[8:]), &inc); err != nil {
				return s.corrupt(fmt.Errorf("incident %x: %w", k[8:], err))
			}
			out = append(out, &inc)
		}
		return nil
	})
	slices.Reverse(out)
	return out, err
}

// AnyStartedBefore reports whether an incident started before t: the
// first entry of the start index says so.
func (s *Store) AnyStartedBefore(t time.Time) (bool, error) {
	var found bool
	err := s.view(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketIncidentStart).Cursor().First()
		found = k != nil && bytes.Compare(k[:8], timeKey(t)) < 0
		return nil
	})
	return found, err
}

// IncidentsVersion changes whenever a commit writes incidents.
func (s *Store) IncidentsVersion() uint64 { return s.incidents.Load() }

// Incident reads one incident by id.
func (s *Store) Incident(id string) (*status.Incident, error) {
	var inc *status.Incident
	err := s.view(func(tx *bolt.Tx) error {
		seq := tx.Bucket(bucketIncidentID).Get([]byte(id))
		if seq == nil {
			return ErrNotFound
		}
		inc = new(status.Incident)
		if err := json.Unmarshal(tx.Bucket(bucketIncidents).Get(seq), inc); err != nil {
			return s.corrupt(fmt.Errorf("incident %s: %w", id, err))
		}
		return nil
	})
	return inc, err
}

// Incidents walks incidents newest first, keeping those keep accepts,
// until limit are kept or stop returns true for one.
func (s *Store) Incidents(limit int, keep func(*status.Incident) bool, stop func(*status.Incident) bool) ([]*status.Incident, error) {
	var out []*status.Incident
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketIncidents).Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			var inc status.Incident
			if err := json.Unmarshal(v, &inc); err != nil {
				return s.corrupt(fmt.Errorf("incident %x: %w", k, err))
			}
			if stop != nil && stop(&inc) {
				break
			}
			if keep == nil || keep(&inc) {
				out = append(out, &inc)
			}
		}
		return nil
	})
	return out, err
}

// ComponentRollups returns a component's roll-ups from from to to (hourly
// or daily), oldest first; periods without data are absent.
func (s *Store) ComponentRollups(id string, daily bool, from, to time.Time) ([]ComponentRollup, error) {
	var out []ComponentRollup
	err := s.series(componentSeries(id), daily, from, to, func(start time.Time, v []byte) error {
		r, err := decodeComponentRollup(start, v)
		out = append(out, r)
		return err
	})
	return out, err
}

// CheckRollups returns a check's roll-ups, oldest first: its series with
// its open hour or day added (openrollup.go).
func (s *Store) CheckRollups(name string, daily bool, from, to time.Time) ([]CheckRollup, error) {
	var out []CheckRollup
	err := s.view(func(tx *bolt.Tx) (err error) {
		out, err = s.checkRollupsIn(rollupBucket(tx, daily), tx.Bucket(bucketOpenRollups), name, daily, from, to, nil)
		return err
	})
	return out, err
}

// ChecksRollups appends each named check's roll-ups (CheckRollups) to
// out, in the order of names, read in one transaction with the roll-up
// buckets found once. The page's sparklines read every check's hours each
// minute: a transaction and a list a check were 3 MiB a refresh at 5,000
// checks; the caller's out is reused from one component to the next.
func (s *Store) ChecksRollups(names []string, daily bool, from, to time.Time, out []CheckRollup) ([]CheckRollup, error) {
	err := s.view(func(tx *bolt.Tx) (err error) {
		// A read transaction opens a bucket afresh at each lookup.
		series, open := rollupBucket(tx, daily), tx.Bucket(bucketOpenRollups)
		for _, name := range names {
			if out, err = s.checkRollupsIn(series, open, name, daily, from, to, out); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// checkRollupsIn appends a check's roll-ups to out: its series in
// the hourly or daily bucket, then its open hour or day among them.
func (s *Store) checkRollupsIn(series, open *bolt.Bucket, name string, daily bool, from, to time.Time, out []CheckRollup) ([]CheckRollup, error) {
	key, start := checkSeries(name), len(out)
	err := s.seriesOf(series, key, from, to, func(start time.Time, v []byte) error {
		r, err := decodeCheckRollup(start, v)
		out = append(out, r)
		return err
	})
	if err != nil {
		return out, err
	}
	mine, err := withOpen(open, key, daily, from, to, out[start:])
	if err != nil {
		return out, s.corrupt(fmt.Errorf("open roll-up %s: %w", key, err))
	}
	return append(out[:start], mine...), nil
}

func (s *Store) series(name []byte, daily bool, from, to time.Time, fn func(time.Time, []byte) error) error {
	return s.view(func(tx *bolt.Tx) error { return s.seriesIn(tx, name, daily, from, to, fn) })
}

// seriesIn walks a series' roll-ups in [from, to) in tx.
func (s *Store) seriesIn(tx *bolt.Tx, name []byte, daily bool, from, to time.Time, fn func(time.Time, []byte) error) error {
	return s.seriesOf(rollupBucket(tx, daily), name, from, to, fn)
}

// rollupBucket is the bucket of the hourly or the daily roll-ups.
func rollupBucket(tx *bolt.Tx, daily bool) *bolt.Bucket {
	if daily {
		return tx.Bucket(bucketDaily)
	}
	return tx.Bucket(bucketHourly)
}

// seriesOf walks a series' roll-ups in [from, to) in parent, the bucket of
// the hourly or the daily roll-ups.
func (s *Store) seriesOf(parent *bolt.Bucket, name []byte, from, to time.Time, fn func(time.Time, []byte) error) error {
	b := parent.Bucket(name)
	if b == nil {
		return nil
	}
	c := b.Cursor()
	end := timeKey(to)
	for k, v := c.Seek(timeKey(from)); k != nil && string(k) < string(end); k, v = c.Next() {
		if err := fn(keyTime(k), v); err != nil {
			return s.corrupt(fmt.Errorf("roll-up %s at %x: %w", name, k, err))
		}
	}
	return nil
}

// StoredResult is one raw result read back.
type StoredResult struct {
	Check  string
	At     time.Time
	Result probes.Result
}

// Results returns a check's raw results (every check's when check is "")
// in [from, to), oldest first, at most limit, from the local file: this
// node's copies of the results its applied entries carried. Only tests
// and benchmarks read them back, so it scans the whole range: they are
// keyed time first for the writer's sake (putRawResults).
func (s *Store) Results(check string, from, to time.Time, limit int) ([]StoredResult, error) {
	var out []StoredResult
	start, end := timeKey(from), timeKey(to)
	err := s.viewLocal(func(tx *bolt.Tx) error {
		damaged := func(name string, k []byte, err error) error {
			return fmt.Errorf("%s %w (result of %s at %x: %v)", LocalPath(s.path), ErrDamaged, name, k, err)
		}
		// What was written before the time-first layout, in a sub-bucket
		// per check, until it is pruned.
		old := func(name []byte) error {
			b := tx.Bucket(bucketResults).Bucket(name)
			if b == nil {
				return nil
			}
			c := b.Cursor()
			for k, v := c.Seek(start); k != nil && string(k) < string(end); k, v = c.Next() {
				r, err := decodeResult(v)
				if err != nil {
					return damaged(string(name), k, err)
				}
				out = append(out, StoredResult{Check: string(name), At: keyTime(k), Result: r})
			}
			return nil
		}
		if check != "" {
			if err := old([]byte(check)); err != nil {
				return err
			}
		} else if err := tx.Bucket(bucketResults).ForEachBucket(old); err != nil {
			return err
		}
		c := tx.Bucket(bucketRaw).Cursor()
		for k, v := c.Seek(start); k != nil && string(k) < string(end); k, v = c.Next() {
			if len(k) < 8 {
				return damaged("?", k, errors.New("short key"))
			}
			if check != "" && string(k[8:]) != check {
				continue
			}
			r, err := decodeResult(v)
			if err != nil {
				return damaged(string(k[8:]), k, err)
			}
			out = append(out, StoredResult{Check: string(k[8:]), At: keyTime(k), Result: r})
		}
		return nil
	})
	slices.SortStableFunc(out, func(a, b StoredResult) int { return a.At.Compare(b.At) })
	return out[:min(len(out), max(limit, 0))], err
}
