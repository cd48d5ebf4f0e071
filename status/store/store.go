// Package store keeps Outpost's durable state in one bbolt file: engine
// state, incidents, raw results, roll-ups and the outbox. Every engine step
// commits in exactly one transaction, so a crash loses nothing acknowledged
// and never half-applies a step.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"
)

// Bucket names. Keys inside are big-endian where they are numbers, so
// bbolt's byte order is time or sequence order.
var (
	bucketMeta       = []byte("meta")
	bucketChecks     = []byte("checks")     // check name → CheckState JSON
	bucketComponents = []byte("components") // component id → ComponentState JSON
	bucketIncidents  = []byte("incidents")  // be(seq) → Incident JSON
	bucketIncidentID = []byte("incident_ids")
	// bucketIncidentStart indexes incidents by start: be(start, unix nanos)
	// + be(seq) → nothing, so a history page reads only its months.
	bucketIncidentStart = []byte("incident_starts")
	bucketResults       = []byte("results") // sub-bucket per check: be(unix nanos) → encoded result
	bucketHourly        = []byte("hourly")  // sub-bucket per "c:"+check or "k:"+component: be(hour start) → roll-up
	bucketDaily         = []byte("daily")
	bucketOutbox        = []byte("outbox")      // be(seq) → OutboxRow JSON
	bucketShots         = []byte("screenshots") // sub-bucket per check: be(unix nanos) → PNG of a failed browser run

	keySchema     = []byte("schema")
	keyEngine     = []byte("engine")
	keyLastCommit = []byte("last_commit")
	// keyApplied is the index of the last entry applied from a replicated
	// log (Entry.Index), written in the entry's own transaction.
	keyApplied = []byte("applied_index")
)

// buckets is every top-level bucket, in one explicit list: a file opened
// by this code has all of them.
func buckets() [][]byte {
	return [][]byte{bucketMeta, bucketChecks, bucketComponents, bucketIncidents, bucketIncidentID, bucketIncidentStart,
		bucketResults, bucketHourly, bucketDaily, bucketOutbox, bucketOutboxOpen, bucketThreads, bucketSettings, bucketAudit,
		bucketSubs, bucketWHEvents, bucketWHDelivery, bucketWHOpen, bucketWHBySub, bucketShots, bucketEmailOpen, bucketEmailIndex, bucketMailbox, bucketRefusals}
}

// SchemaVersion is the layout this code writes.
const SchemaVersion = 3

// migration upgrades a file from version v to v+1, inside one transaction.
func migration(v uint32) func(tx *bolt.Tx) error {
	switch v {
	case 1:
		return indexIncidentStarts
	case 2:
		return indexEmailSubscribers
	}
	return nil
}

// ErrLocked means another process holds the file.
var ErrLocked = errors.New("the data file is in use by another Outpost process")

// Options tunes Open.
type Options struct {
	// LockTimeout bounds the wait for the file lock; default 1s.
	LockTimeout time.Duration
	// NoSync skips fsync (benchmarks of the non-durable path only).
	NoSync bool
}

// Store is the bbolt-backed store. Its methods are safe for concurrent use;
// Apply is meant to be called by one goroutine (the engine's).
type Store struct {
	// mu is held shared by every transaction (view, update) and Close,
	// and alone by Restore while it swaps the file under db.
	mu         sync.RWMutex
	db         *bolt.DB
	path       string
	opts       Options // as Open completed them: Restore reopens with them
	lastCommit atomic.Int64
	// subsVersion: see SubscriptionsVersion.
	subsVersion atomic.Uint64
	// restored: see Restored; its floor is set by the first entry.
	restored atomic.Pointer[Restored]
	// incidents counts commits that wrote incidents: pages built from
	// stored incidents are fresh while it stays the same.
	incidents atomic.Uint64
	// work: see Work.
	work chan struct{}
	// scrubOwed: an erasure's wipe of the free pages waits for read
	// transactions to end (erase.go).
	scrubOwed atomic.Bool
	// reads counts the store's read transactions from before bbolt begins
	// one: bbolt counts an open read (Stats.OpenTxN) only after it has
	// taken its copy of the meta page, so a read that began before an
	// erasure's commit could still be uncounted when the wipe looks, and
	// have pages it can reach zeroed under it.
	reads atomic.Int64
	// halt: see Halted.
	halt atomic.Pointer[error]
}

// Open opens or creates the data file at path, creating its folder.
func Open(path string, o Options) (*Store, error) {
	if o.LockTimeout == 0 {
		o.LockTimeout = time.Second
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := validateFile(path); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.LockTimeout, NoSync: o.NoSync, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolterr.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: %w (waited %s for its lock)", path, ErrLocked, o.LockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{db: db, path: path, opts: o, work: make(chan struct{}, 1)}
	if err := s.view(s.checkLoaded); err != nil {
		db.Close()
		if !errors.Is(err, ErrDamaged) {
			err = s.corrupt(err)
		}
		return nil, err
	}
	if err := s.update(s.initSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := s.resumeWipe(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) initSchema(tx *bolt.Tx) error {
	for _, b := range buckets() {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	v := uint32(0)
	if raw := meta.Get(keySchema); raw != nil {
		v = binary.BigEndian.Uint32(raw)
	} else {
		v = SchemaVersion // a new file starts at the current layout
	}
	if v > SchemaVersion {
		return fmt.Errorf("schema version %d is newer than this Outpost understands (%d): upgrade Outpost", v, SchemaVersion)
	}
	for ; v < SchemaVersion; v++ {
		if m := migration(v); m != nil {
			if err := m(tx); err != nil {
				return fmt.Errorf("migrate schema %d→%d: %w", v, v+1, err)
			}
		}
	}
	if raw := meta.Get(keyLastCommit); raw != nil {
		s.lastCommit.Store(int64(binary.BigEndian.Uint64(raw)))
	}
	s.restored.Store(restoredAt(tx))
	return meta.Put(keySchema, be32(SchemaVersion))
}

// Restored reports that the file was a backup being used as the data file
// (see MarkBackup) when it was opened, and the floor its sequences
// continue from once the first entry applied to it has drawn it.
func (s *Store) Restored() (*Restored, bool) { r := s.restored.Load(); return r, r != nil }

// view is db.View, update db.Update: a page bbolt finds damaged makes it
// panic, and the panic becomes an ErrDamaged error instead of a crash with
// a stack trace. A damaged page can also send bbolt past the mapped file
// (a key size from a flipped byte): SetPanicOnFault makes that fault a
// panic too on this goroutine, where it would otherwise end the process.
func (s *Store) view(fn func(*bolt.Tx) error) (err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.reads.Add(1)
	defer s.reads.Add(-1)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer s.damaged(&err)
	return s.db.View(fn)
}

func (s *Store) update(fn func(*bolt.Tx) error) (err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer s.damaged(&err)
	return s.db.Update(fn)
}

// damaged turns a panic that damage causes into ErrDamaged and lets any
// other go on: a bug in our own code must crash with its own message and
// stack, not send the operator to restore a backup of a sound file.
func (s *Store) damaged(err *error) {
	r := recover()
	if r == nil {
		return
	}
	if !isDamage(r) {
		panic(r)
	}
	*err = fmt.Errorf("%s %w (%v)", s.path, ErrDamaged, r)
}

// Close closes the file.
func (s *Store) Close() error { s.mu.Lock(); defer s.mu.Unlock(); return s.db.Close() }

// Path is the data file's path.
func (s *Store) Path() string { return s.path }

// LastCommit is when the last Apply committed (zero before the first).
func (s *Store) LastCommit() time.Time {
	n := s.lastCommit.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Backup writes a consistent copy of the whole file to w while the store
// stays in use (a read transaction sees one point in time).
func (s *Store) Backup(w io.Writer) (int64, error) {
	var n int64
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// Check reads every key and value, then runs bbolt's consistency check,
// and returns every problem found.
func (s *Store) Check() []error {
	var errs []error
	if err := s.view(func(tx *bolt.Tx) error {
		if err := readEverything(tx); err != nil {
			return err
		}
		if err := checkRuns(tx); err != nil {
			return s.corrupt(err)
		}
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return nil
	}); err != nil {
		errs = append(errs, err)
	}
	return errs
}

func be32(v uint32) []byte { b := make([]byte, 4); binary.BigEndian.PutUint32(b, v); return b }
func be64(v uint64) []byte { b := make([]byte, 8); binary.BigEndian.PutUint64(b, v); return b }

// timeKey encodes t as big-endian unix nanoseconds, clamped to the
// representable range (1970 to 2262), so a zero or far-future bound in a
// range query means "from the start" or "to the end" instead of wrapping.
func timeKey(t time.Time) []byte {
	switch {
	case t.Before(time.Unix(0, 0)):
		return be64(0)
	case t.After(time.Unix(0, math.MaxInt64)):
		return be64(math.MaxInt64)
	}
	return be64(uint64(t.UnixNano()))
}

func keyTime(k []byte) time.Time { return time.Unix(0, int64(binary.BigEndian.Uint64(k))).UTC() }
