// Package store keeps Outpost's durable state in two bbolt files: the
// replicated state (engine state, incidents, roll-ups, the outbox,
// subscribers, settings) at the data file's path, and the node's own data
// (raw results, screenshots, the Bluesky session) beside it in path +
// ".local" (local.go). Every engine step commits its replicated part in
// exactly one transaction, so a crash loses nothing acknowledged and never
// half-applies a step.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	bucketChecks     = []byte("checks")     // check name → CheckState, compact (statecodec.go) or JSON
	bucketComponents = []byte("components") // component id → ComponentState JSON
	bucketIncidents  = []byte("incidents")  // be(seq) → Incident JSON
	bucketIncidentID = []byte("incident_ids")
	// bucketIncidentStart indexes incidents by start: be(start, unix nanos)
	// + be(seq) → nothing, so a history page reads only its months.
	bucketIncidentStart = []byte("incident_starts")
	bucketHourly        = []byte("hourly") // sub-bucket per "c:"+check or "k:"+component: be(hour start) → roll-up
	bucketDaily         = []byte("daily")
	bucketOutbox        = []byte("outbox") // be(seq) → OutboxRow JSON

	keySchema     = []byte("schema")
	keyEngine     = []byte("engine")
	keyLastCommit = []byte("last_commit")
	// keyApplied is the index of the last entry applied from a replicated
	// log (Entry.Index), written in the entry's own transaction.
	keyApplied = []byte("applied_index")
)

// buckets is every top-level bucket of the replicated file, in one
// explicit list: a file opened by this code has all of them, and no other
// (the local file has its own list, localBuckets).
func buckets() [][]byte {
	return [][]byte{bucketMeta, bucketChecks, bucketComponents, bucketIncidents, bucketIncidentID, bucketIncidentStart,
		bucketHourly, bucketDaily, bucketOutbox, bucketOutboxOpen, bucketThreads, bucketSettings, bucketAudit,
		bucketSubs, bucketWHEvents, bucketWHDelivery, bucketWHOpen, bucketWHBySub, bucketEmailOpen, bucketEmailIndex, bucketMailbox, bucketRefusals, bucketWriters, bucketOpenRollups}
}

// SchemaVersion is the newest layout of the replicated file this code
// reads. Version 4 moved node-local data to the local file (splitLocal);
// version 5 keeps checks' open roll-ups in open_rollups (openrollup.go).
// A file moves to 5 with the first entry that writes an open roll-up, not
// at Open: until then its layout is 4's, which an older Outpost (a member
// installing a snapshot during a rolling upgrade) still reads.
const SchemaVersion = openSchema

// baseSchema is where a new file, and one split at Open, start: the layout
// without open roll-ups.
const baseSchema = 4

// splitSchema is the last version that kept node-local data in the data
// file: moving it out takes two files and two commits, so it is no
// migration inside one transaction.
const splitSchema = 3

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
	// ReplicatedOnly opens the replicated file alone, creating no local
	// file beside it: for checking a copy (a backup, a snapshot). Reads
	// and writes of node-local data then fail.
	ReplicatedOnly bool
	// Logger receives what the store handles itself (a failed write to
	// the local file); default slog.Default().
	Logger *slog.Logger
}

// Store is the bbolt-backed store. Its methods are safe for concurrent use;
// Apply is meant to be called by one goroutine (the engine's).
type Store struct {
	// mu is held shared by every transaction (view, update) and Close,
	// and alone by Restore while it swaps the file under db.
	mu   sync.RWMutex
	db   *bolt.DB
	path string
	// local is the node-local file (local.go); nil with ReplicatedOnly.
	local *bolt.DB
	// localErrs: see LocalErrors.
	localErrs  atomic.Uint64
	log        *slog.Logger
	opts       Options // as Open completed them: Restore reopens with them
	lastCommit atomic.Int64
	// subsVersion: see SubscriptionsVersion.
	subsVersion atomic.Uint64
	// restored: see Restored; its floor is set by the first entry.
	restored atomic.Pointer[Restored]
	// incidents counts commits that wrote incidents: pages built from
	// stored incidents are fresh while it stays the same.
	incidents atomic.Uint64
	// work: see Work; settings: see SettingsChanged.
	work, settings chan struct{}
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

// Open opens or creates the data file at path, creating its folder, and
// the node-local file beside it (path + ".local"; not with
// ReplicatedOnly). A file of schema 3 is split on the way (splitLocal).
func Open(path string, o Options) (*Store, error) {
	if o.LockTimeout == 0 {
		o.LockTimeout = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s, err := openReplicated(path, o)
	if err != nil || o.ReplicatedOnly {
		return s, err
	}
	if s.local, err = openLocal(LocalPath(path), o); err != nil {
		s.db.Close()
		return nil, err
	}
	if err := s.splitLocal(true); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: move node-local data to %s: %w", path, LocalPath(path), err)
	}
	return s, nil
}

// openFile checks and opens one of the store's bbolt files (the
// replicated one or the local one), waiting o.LockTimeout for its lock.
func openFile(path string, o Options) (*bolt.DB, error) {
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
	return db, nil
}

// openReplicated opens the replicated file alone: checks, bucket list,
// migrations up to splitSchema, and an owed wipe.
func openReplicated(path string, o Options) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db, err := openFile(path, o)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path, opts: o, log: o.Logger, work: make(chan struct{}, 1), settings: make(chan struct{}, 1)}
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
		v = baseSchema // a new file starts without open roll-ups
	}
	if v > SchemaVersion {
		return fmt.Errorf("schema version %d is newer than this Outpost understands (%d): upgrade Outpost", v, SchemaVersion)
	}
	for ; v < splitSchema; v++ {
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
	return meta.Put(keySchema, be32(v))
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
	defer damaged(s.path, &err)
	return s.db.View(fn)
}

func (s *Store) update(fn func(*bolt.Tx) error) (err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer damaged(s.path, &err)
	return s.db.Update(fn)
}

// damaged turns a panic that damage causes into ErrDamaged and lets any
// other go on: a bug in our own code must crash with its own message and
// stack, not send the operator to restore a backup of a sound file. path
// is the file the transaction was on.
func damaged(path string, err *error) {
	r := recover()
	if r == nil {
		return
	}
	if !isDamage(r) {
		panic(r)
	}
	*err = fmt.Errorf("%s %w (%v)", path, ErrDamaged, r)
}

// Close closes both files.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.db.Close()
	if s.local != nil {
		err = errors.Join(err, s.local.Close())
	}
	return err
}

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

// Backup writes a consistent copy of the replicated file to w while the
// store stays in use (a read transaction sees one point in time): what a
// restore needs. The local file's raw results and screenshots are not in
// it (BackupLocal copies them).
func (s *Store) Backup(w io.Writer) (int64, error) {
	var n int64
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// Check reads every key and value of both files, then runs bbolt's
// consistency check on each, and returns every problem found (a problem
// of the local file names it).
func (s *Store) Check() []error {
	errs := checkFile(s.path, s.view, false)
	if s.local != nil {
		errs = append(errs, checkFile(LocalPath(s.path), s.viewLocal, true)...)
	}
	return errs
}

// checkFile is Check of one file, read through view; named prefixes
// bbolt's findings with the file's path.
func checkFile(path string, view func(func(*bolt.Tx) error) error, named bool) []error {
	var errs []error
	if err := view(func(tx *bolt.Tx) error {
		if err := readEverything(tx); err != nil {
			return err
		}
		if err := checkRuns(tx); err != nil {
			return fmt.Errorf("%s %w (%v)", path, ErrDamaged, err)
		}
		for err := range tx.Check() {
			if named {
				err = fmt.Errorf("%s: %w", path, err)
			}
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
