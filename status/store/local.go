package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The node-local file. What one node alone has seen or holds lives beside
// the replicated file, in a bbolt file of its own: the raw results of the
// last 48 hours, screenshots of failed browser runs, and the Bluesky
// session (its refresh token rotates on every use, so two nodes cannot
// share one). Nothing in it is replicated: a snapshot, a restore and
// `outpost backup` cover the replicated file only, and a node restored
// from one keeps its own local file. Raw results reach it from applied
// step entries (the local copy of the results an entry carries), after
// the entry's commit; screenshots and sessions are written directly, not
// through the Log.

// Local bucket names.
var (
	bucketRaw     = []byte("raw")         // be(unix nanos) + check → encoded result
	bucketResults = []byte("results")     // written before raw: sub-bucket per check, be(unix nanos) → encoded result
	bucketShots   = []byte("screenshots") // sub-bucket per check: be(unix nanos) → PNG of a failed browser run
)

// localBuckets is every top-level bucket of the local file. Its meta
// holds its own schema; its settings the node's own values.
func localBuckets() [][]byte {
	return [][]byte{bucketMeta, bucketRaw, bucketResults, bucketShots, bucketSettings}
}

// LocalSchemaVersion is the layout of the local file this code writes.
const LocalSchemaVersion = 1

// LocalPath is where the node-local file of the data file at path lives.
func LocalPath(path string) string { return path + ".local" }

// errNoLocal: the store was opened ReplicatedOnly.
var errNoLocal = errors.New("the store was opened without its local file")

// openLocal opens or creates the local file at path, with the data file's
// checks, lock timeout and sync, and makes its buckets.
func openLocal(path string, o Options) (*bolt.DB, error) {
	db, err := openFile(path, o)
	if err != nil {
		return nil, err
	}
	if err := onLocal(db, path, true, initLocal); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return db, nil
}

func initLocal(tx *bolt.Tx) error {
	for _, b := range localBuckets() {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	if raw := meta.Get(keySchema); len(raw) == 4 && binary.BigEndian.Uint32(raw) > LocalSchemaVersion {
		return fmt.Errorf("local schema version %d is newer than this Outpost understands (%d): upgrade Outpost", binary.BigEndian.Uint32(raw), LocalSchemaVersion)
	}
	return meta.Put(keySchema, be32(LocalSchemaVersion))
}

// onLocal runs fn in a transaction on the local file (a write one when
// write), a damaged page becoming ErrDamaged as in view.
func onLocal(db *bolt.DB, path string, write bool, fn func(*bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer damaged(path, &err)
	if write {
		return db.Update(fn)
	}
	return db.View(fn)
}

// viewLocal is view on the local file.
func (s *Store) viewLocal(fn func(*bolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.local == nil {
		return errNoLocal
	}
	return onLocal(s.local, LocalPath(s.path), false, fn)
}

// updateLocal is update on the local file.
func (s *Store) updateLocal(fn func(*bolt.Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.local == nil {
		return errNoLocal
	}
	return onLocal(s.local, LocalPath(s.path), true, fn)
}

// LocalErrors counts the writes to the local file that failed after their
// entry had committed (the raw results of a step, a prune of them): the
// entry stands, what the write held is lost (docs/operations.md).
func (s *Store) LocalErrors() uint64 { return s.localErrs.Load() }

// applyLocal writes the node-local part of a committed entry: the raw
// results a step carries, the pruning of old ones. A failure is logged and
// counted, never the entry's: the replicated state has moved, and every
// other applier has moved with it.
func (s *Store) applyLocal(e Entry, res *Result) {
	if e.Step != nil && len(e.Step.Results) > 0 {
		if err := s.updateLocal(func(tx *bolt.Tx) error { return putRawResults(tx, e.Step.Results) }); err != nil {
			s.localFailed("raw results", err, slog.Int("results", len(e.Step.Results)))
		}
	}
	if e.Prune != nil {
		err := s.updateLocal(func(tx *bolt.Tx) error {
			n, more, err := pruneLocal(tx, e.At.Add(-e.Prune.RawRetention), e.Prune.Budget)
			res.Deleted, res.More = res.Deleted+n, res.More || more
			return err
		})
		if err != nil {
			s.localFailed("prune raw results", err)
		}
	}
}

func (s *Store) localFailed(what string, err error, attrs ...slog.Attr) {
	s.localErrs.Add(1)
	attrs = append([]slog.Attr{slog.String("write", what), slog.String("file", LocalPath(s.path)), slog.String("error", err.Error())}, attrs...)
	s.log.LogAttrs(context.Background(), slog.LevelError, "local write failed after its entry committed", attrs...)
}

// putRawResults keeps the raw results of a step, two of a check in the
// same nanosecond both. They are keyed time first: an entry's results
// land at the end of one bucket, a few pages a commit, where a sub-bucket
// per check made every result rewrite its check's pages (a third of a
// member's apply time at 3,000 checks). Nothing on a public or operators'
// surface reads a check's raw results back (Results scans).
func putRawResults(tx *bolt.Tx, results []Input) error {
	b := tx.Bucket(bucketRaw)
	b.FillPercent = 0.9 // keys arrive nearly in order: pack the pages
	// A key above the bucket's last is new: only one at or below it (a
	// late result) is looked up first, which nearly every result skips.
	// (Cloned: a write transaction may remap the file under the page.)
	last, _ := b.Cursor().Last()
	last = bytes.Clone(last)
	for _, r := range results {
		at := r.At.UnixNano()
		k := rawKey(at, r.Check)
		for bytes.Compare(k, last) <= 0 && b.Get(k) != nil {
			at++
			k = rawKey(at, r.Check)
		}
		if err := b.Put(k, encodeResult(r.result())); err != nil {
			return err
		}
		if bytes.Compare(k, last) > 0 {
			last = k
		}
	}
	return nil
}

func rawKey(unixNanos int64, check string) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(check)), uint64(unixNanos)), check...)
}

// pruneLocal deletes raw results and screenshots older than cutoff, at
// most budget keys.
func pruneLocal(tx *bolt.Tx, cutoff time.Time, budget int) (deleted int, more bool, err error) {
	if deleted, more, err = pruneKeys(tx.Bucket(bucketRaw), timeKey(cutoff), budget); err != nil || more {
		return deleted, more, err
	}
	for _, name := range [][]byte{bucketResults, bucketShots} {
		n, m, err := pruneBucket(tx.Bucket(name), timeKey(cutoff), budget-deleted)
		deleted += n
		more = more || m
		if err != nil || deleted >= budget {
			return deleted, more || deleted >= budget, err
		}
	}
	return deleted, more, nil
}

// PutScreenshot keeps a failed browser run's screenshot in the local file
// under the check and the run's time (the key the readers use), dropping
// the check's oldest beyond ShotsKept. Node-local data: it does not go
// through the Log; a step entry carries only that there is one.
func (s *Store) PutScreenshot(check string, at time.Time, png []byte) error {
	err := s.updateLocal(func(tx *bolt.Tx) error { return putScreenshot(tx, check, at, png) })
	if err != nil {
		return fmt.Errorf("screenshot of %s: %w", check, err)
	}
	return nil
}

// LocalSetting reads one of the node's own values ("" when unset).
func (s *Store) LocalSetting(key string) (string, error) {
	var v string
	err := s.viewLocal(func(tx *bolt.Tx) error { v = string(tx.Bucket(bucketSettings).Get([]byte(key))); return nil })
	return v, err
}

// SetLocalSetting stores one of the node's own values (a Bluesky session)
// in the local file, not through the Log.
func (s *Store) SetLocalSetting(key, value string) error {
	err := s.updateLocal(func(tx *bolt.Tx) error { return tx.Bucket(bucketSettings).Put([]byte(key), []byte(value)) })
	if err != nil {
		return fmt.Errorf("local setting %s: %w", key, err)
	}
	return nil
}

// BackupLocal writes a consistent copy of the local file to w (for
// checking it: a restore does not need it).
func (s *Store) BackupLocal(w io.Writer) (int64, error) {
	var n int64
	err := s.viewLocal(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}
