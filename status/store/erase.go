package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Erasure ("delete my data"). Deleting a key in bbolt does not remove its
// bytes from the file: every change writes a page anew and frees the old
// one, and a free page keeps what it held until bbolt reuses it. So a
// deleted subscriber's address (in each earlier version of its row, and
// in its deliveries' attempts, which may quote an SMTP server's answer)
// would stay readable in the file for an unknown time. An erasure
// (SubscriptionChange.Erase) deletes like Delete, and after its commit the
// store overwrites every free page of the file with zeros.
//
// A free page may still be read by a read transaction that began before
// it was freed, so the pages are wiped only when no read transaction is
// open (one that begins after the wipe starts reads the current file,
// which no longer refers to them). A long read (a backup being copied)
// makes the wipe wait up to scrubWait; past that it is owed, and the
// next commit that finds no reader open does it.
//
// The debt is kept in the file (keyWipeOwed, written by the erasure's own
// entry, deleted by the wipe), not only in memory: the person has been
// told the old copies are gone, so a stop or a crash before the wipe must
// not forget it. Open does an owed wipe before anything reads.

// keyWipeOwed, in the meta bucket, marks a wipe owed since an erasure.
var keyWipeOwed = []byte("wipe_owed")

// oweWipe records, in an erasure's transaction, that the free pages are
// to be wiped.
func oweWipe(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyWipeOwed, []byte{1}) }

// resumeWipe does at Open the wipe a file still owes (stopped or crashed
// between an erasure and its wipe). A wipe that fails stays owed: the
// next commit tries again, and the file opens all the same.
func (s *Store) resumeWipe() error {
	var owed bool
	if err := s.view(func(tx *bolt.Tx) error {
		owed = tx.Bucket(bucketMeta).Get(keyWipeOwed) != nil
		return nil
	}); err != nil || !owed {
		return err
	}
	s.scrubOwed.Store(true)
	if s.scrub() == nil {
		s.scrubOwed.Store(false)
	}
	return nil
}

// scrubWait bounds how long an erasure's commit waits for read
// transactions to end before leaving the wipe to a later commit.
const scrubWait = 2 * time.Second

// errReaders: a read transaction is open, so free pages cannot be wiped
// yet.
var errReaders = errors.New("read transactions are open")

// ErrNotWiped is an erasure committed (the subscriber and its deliveries
// are deleted) whose wipe of the free pages failed; the next commit tries
// again.
var ErrNotWiped = errors.New("erased, but the file's free pages were not wiped")

// scrubAfter wipes the free pages after e's commit when e erased a
// subscriber, or when an earlier erasure's wipe is still owed; an
// erasure waits for open reads up to scrubWait.
func (s *Store) scrubAfter(e Entry) error {
	erased := e.Subscription != nil && e.Subscription.Erase
	if erased {
		s.scrubOwed.Store(true)
	}
	if !s.scrubOwed.Load() {
		return nil
	}
	deadline := time.Now().Add(scrubWait)
	for {
		err := s.scrub()
		switch {
		case err == nil:
			s.scrubOwed.Store(false)
			return nil
		case !erased:
			// Another entry's commit stands whatever an owed wipe comes
			// to: its caller must not read it as its own failure.
			return nil
		case !errors.Is(err, errReaders):
			return fmt.Errorf("%w: %w", ErrNotWiped, err)
		case time.Now().After(deadline):
			return nil // owed: the next commit tries again
		}
		time.Sleep(10 * time.Millisecond) // a read transaction is short
	}
}

// scrub runs wipeFree in a write transaction (which holds off every other
// writer, so no free page is reused meanwhile). It is Apply's: inside the
// store only Apply writes.
func (s *Store) scrub() error {
	return s.update(s.wipeFree)
}

// wipeFree overwrites with zeros every free page of the file that holds
// anything, then syncs the file; done, it deletes the owed mark (its only
// change to a key: the page the mark's old version is left on holds no
// subscriber's data).
func (s *Store) wipeFree(tx *bolt.Tx) error {
	if err := s.wipePages(tx); err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Delete(keyWipeOwed)
}

func (s *Store) wipePages(tx *bolt.Tx) error {
	if s.reads.Load() > 0 || s.db.Stats().OpenTxN > 0 {
		return errReaders
	}
	f, err := os.OpenFile(s.path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	size := s.db.Info().PageSize
	page, zero := make([]byte, size), make([]byte, size)
	wiped := 0
	for id := 2; ; id++ { // pages 0 and 1 are the meta pages
		info, err := tx.Page(id)
		if err != nil {
			return err
		}
		if info == nil { // past the last page in use
			break
		}
		if info.Type != "free" {
			continue
		}
		off := int64(id) * int64(size)
		if _, err := f.ReadAt(page, off); err != nil {
			return fmt.Errorf("read free page %d: %w", id, err)
		}
		if bytes.Equal(page, zero) {
			continue
		}
		if _, err := f.WriteAt(zero, off); err != nil {
			return fmt.Errorf("wipe free page %d: %w", id, err)
		}
		wiped++
	}
	if wiped == 0 {
		return nil
	}
	return f.Sync()
}
