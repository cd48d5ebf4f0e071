package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Snapshot and Restore are what a replicated log's applier (raft's FSM in
// a cluster) calls to compact its log and to bring a node that is far
// behind up to date: a copy of the state at an applied index, and that
// copy installed in place of the live file.

// SnapshotInfo describes a snapshot Snapshot wrote.
type SnapshotInfo struct {
	Index uint64 // the applied index the snapshot holds (AppliedIndex)
	Size  int64  // bytes written
}

// Snapshot writes a consistent copy of the store's file to w, with the
// applied index it holds, while the store stays in use: one read
// transaction sees one point in time, so the copy and its index agree.
// It covers the replicated file only: the node-local file (raw results,
// screenshots, the node's own settings) is no part of the state a log
// replicates.
func (s *Store) Snapshot(w io.Writer) (SnapshotInfo, error) {
	var info SnapshotInfo
	err := s.view(func(tx *bolt.Tx) error {
		info.Index = appliedIndex(tx)
		var err error
		info.Size, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("snapshot %s: %w", s.path, err)
	}
	return info, nil
}

// Restore installs the snapshot read from r in place of the live
// replicated file, keeping the local file: the node's own raw results and
// screenshots from before stay, none of the snapshot's source come.
// The snapshot is written to a file beside the data file (as large as the
// disk allows: nothing of it is held in memory), synced, then opened and
// checked as Open and Check check a data file; one that is damaged, no
// bbolt file, or of a newer schema is refused and the live file kept.
// Only then, with every read and write of the store held off, the live
// file is closed, the snapshot renamed over it and opened, and what the
// store keeps in memory about its file (last commit, restore mark and
// floor, owed wipe, halt) is read from the new one; the subscriptions and
// incidents versions and the work signal move, so whatever cached the
// old file's content looks again. Reads and writes that run meanwhile see
// the old file or the new one.
//
// What callers built from the old file (the monitor's engine, web's
// pages, a delivery loop's in-flight rows) is theirs: after Restore the
// caller reloads them from the store.
func (s *Store) Restore(r io.Reader) error {
	tmp, err := s.receive(r)
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	defer os.Remove(tmp) // gone once renamed; left only by a failure
	if err := s.verify(tmp); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	if err := s.install(tmp); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	return nil
}

// receive writes r to a new file beside the data file and syncs it: the
// rename that installs it then stays on one file system.
func (s *Store) receive(r io.Reader) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(s.path), filepath.Base(s.path)+".restore-*")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write %s: %w", f.Name(), err)
	}
	return f.Name(), nil
}

// verify opens the received file as a replicated file (Open's checks and
// migrations; no local file is made beside it) and reads all of it
// (Check).
func (s *Store) verify(path string) error {
	snap, err := Open(path, s.replicatedOnly())
	if err != nil {
		return err
	}
	errs := snap.Check()
	if cerr := snap.Close(); cerr != nil {
		errs = append(errs, cerr)
	}
	return errors.Join(errs...)
}

// replicatedOnly is the store's options for opening a replicated file
// alone.
func (s *Store) replicatedOnly() Options { o := s.opts; o.ReplicatedOnly = true; return o }

// install swaps the verified file at tmp in for the data file, holding
// off every transaction; the local file stays as it is. A snapshot from
// before the split (schema 3) has its node-local data dropped, not
// copied: it was another node's. Should the rename fail, the old file is
// opened again; should the new one not open, the store halts.
func (s *Store) install(tmp string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close %s: %w", s.path, err)
	}
	renamed := os.Rename(tmp, s.path)
	n, err := Open(s.path, s.replicatedOnly())
	if err == nil {
		if err = n.splitLocal(false); err != nil {
			n.Close()
		}
	}
	if err != nil {
		// s.db stays closed: every read and write returns bbolt's "not
		// open" error, and Apply the halt.
		err = fmt.Errorf("%w: the data file did not open again after a restore: %w", ErrHalted, err)
		s.halt.Store(&err)
		return err
	}
	s.adopt(n)
	if renamed != nil {
		return fmt.Errorf("the live file is kept: %w", renamed)
	}
	if err := syncDir(filepath.Dir(s.path)); err != nil {
		// Installed, and in use: only a crash before the folder reaches
		// the disk brings the old file back, with its lower applied index.
		return fmt.Errorf("installed, but syncing its folder failed: %w", err)
	}
	return nil
}

// adopt makes n's file the store's, with what n read of it at Open, and
// tells whatever cached the old file's content to look again.
func (s *Store) adopt(n *Store) {
	s.db = n.db
	s.lastCommit.Store(n.lastCommit.Load())
	s.restored.Store(n.restored.Load())
	s.scrubOwed.Store(n.scrubOwed.Load())
	// An entry that halted the old file is behind the snapshot or comes
	// again from the log after it.
	s.halt.Store(nil)
	s.incidents.Add(1)
	s.subsChanged()
	select {
	case s.work <- struct{}{}:
	default:
	}
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
