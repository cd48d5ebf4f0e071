package store

import (
	"fmt"
	"hash/crc32"
	"runtime"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/status"
)

// corrupt says that err, met reading a value, means the file is damaged:
// a value this code wrote no longer decodes.
func (s *Store) corrupt(err error) error {
	return fmt.Errorf("%s %w (%v)", s.path, ErrDamaged, err)
}

// isDamage says that r, recovered from a panic under a transaction (see
// view), comes from a damaged file: a memory fault (with SetPanicOnFault a
// fault past the mapped file is a runtime.Error carrying its address; a
// nil dereference in our code carries none) or a panic raised inside
// bbolt, which panics on pages that make no sense ("invalid page type",
// "pgid above high water mark", "assertion failed: …"). It must be called
// from the deferred function that recovered, while the panicking frames
// are still on the stack.
func isDamage(r any) bool {
	if f, ok := r.(interface{ Addr() uintptr }); ok {
		if _, isRuntime := r.(runtime.Error); isRuntime && f.Addr() != 0 {
			return true
		}
	}
	pc := make([]uintptr, 64)
	frames := runtime.CallersFrames(pc[:runtime.Callers(3, pc)])
	for {
		f, more := frames.Next()
		// The first frame past the runtime's own is the one that panicked.
		if !strings.HasPrefix(f.Function, "runtime.") && !strings.HasPrefix(f.Function, "internal/runtime/") {
			return strings.HasPrefix(f.Function, "go.etcd.io/bbolt.") || strings.HasPrefix(f.Function, "go.etcd.io/bbolt/")
		}
		if !more {
			return false
		}
	}
}

// loadedBuckets are the buckets Open reads whole: what the engine starts
// from and the incident indexes the page and the export read. The results
// and roll-ups, the bulk of a file, are not: they are read page by page as
// needed, each read turning damage into ErrDamaged, and verify reads them.
func loadedBuckets() [][]byte {
	return [][]byte{bucketMeta, bucketChecks, bucketComponents, bucketIncidents, bucketIncidentID, bucketIncidentStart}
}

// checkLoaded reads, at open, everything the engine loads through the
// decoders LoadState uses, and the incident indexes, then checks the pages
// of those buckets: a serve that starts, or an export that renders, never
// meets damage there later. A new file has no buckets yet; one from before
// a migration may lack an index.
func (s *Store) checkLoaded(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketMeta, bucketChecks, bucketComponents, bucketIncidents} {
		if tx.Bucket(name) == nil {
			return nil
		}
	}
	// Decoding first reads every key and value on this goroutine, where a
	// fault on a bad page becomes an error (see view); bbolt's own page
	// check runs on a goroutine of its own, where a fault would crash.
	if err := loadState(tx, status.NewState(), func(*status.Incident) bool { return false }); err != nil {
		return err
	}
	if err := checkIndexes(tx); err != nil {
		return err
	}
	var first error
	for _, name := range loadedBuckets() {
		if b := tx.Bucket(name); b != nil && b.Root() != 0 && first == nil { // 0: inline, inside the root page
			// Drained to the end: the check's goroutine reads the
			// transaction's pages until it closes the channel.
			for err := range tx.Check(bolt.WithPageId(uint64(b.Root()))) {
				if first == nil {
					first = fmt.Errorf("bucket %s: %w", name, err)
				}
			}
		}
	}
	return first
}

// checkIndexes checks that every entry of the incident indexes has its
// shape and names a stored incident.
func checkIndexes(tx *bolt.Tx) error {
	incidents, ids, starts := tx.Bucket(bucketIncidents), tx.Bucket(bucketIncidentID), tx.Bucket(bucketIncidentStart)
	if ids == nil || starts == nil {
		return nil
	}
	if err := ids.ForEach(func(k, v []byte) error {
		if len(v) != 8 || incidents.Get(v) == nil {
			return fmt.Errorf("incident id %q names no incident", k)
		}
		return nil
	}); err != nil {
		return err
	}
	return starts.ForEach(func(k, _ []byte) error {
		if len(k) != 16 || incidents.Get(k[8:]) == nil {
			return fmt.Errorf("incident start %x names no incident", k)
		}
		return nil
	})
}

// readEverything reads every key and value of the file (a checksum over
// them, so each byte is touched), on the calling goroutine: run before
// bbolt's tx.Check, it turns a fault on a bad page into an error where the
// check's own goroutine would crash.
func readEverything(tx *bolt.Tx) error {
	sum := crc32.NewIEEE()
	var walk func(b *bolt.Bucket) error
	walk = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			sum.Write(k)
			if v == nil {
				if sub := b.Bucket(k); sub != nil {
					return walk(sub)
				}
				return nil
			}
			sum.Write(v)
			return nil
		})
	}
	err := tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(b) })
	return err
}

// checkRuns walks the file's pages as bbolt lays them out (a free page
// alone; an allocated page with the overflow pages its header counts) and
// reports the first page whose header makes no sense: an unknown type, or
// a run reaching past the high-water mark. bbolt's own Check trusts every
// header's overflow count: one damaged high byte made it loop about 6×10⁸
// times filling a map of page ids, so verify, backup and export hung
// instead of saying the file is damaged. On a sound file every allocated
// run starts with a branch, leaf or freelist header.
func checkRuns(tx *bolt.Tx) error {
	for id := 2; ; {
		info, err := tx.Page(id)
		if err != nil {
			// The free list is not loaded (a read-only open): which pages
			// are free cannot be told, so nothing here can be judged
			// damage; bbolt's check runs as before.
			return nil
		}
		if info == nil { // past the high-water mark: every run checked
			return nil
		}
		switch info.Type {
		case "free":
			id++
			continue
		case "branch", "leaf", "freelist":
		default:
			return fmt.Errorf("page %d: invalid type %q", id, info.Type)
		}
		last := id + info.OverflowCount
		if end, err := tx.Page(last); err != nil || end == nil {
			return fmt.Errorf("page %d: %d overflow pages run past the end of the file", id, info.OverflowCount)
		}
		id = last + 1
	}
}
