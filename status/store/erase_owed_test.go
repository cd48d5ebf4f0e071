package store

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"
)

// An erasure's wipe that has to wait (a backup reads the file past
// scrubWait) is owed, and "owed" is a promise made to the person who
// asked: the manage page has told them their old copies are gone. It
// must outlive the process: stopped (or crashed) before a later commit
// found no reader, the node reopens the file and wipes. Before, the debt
// was a field in memory, and the address stayed readable in the file
// after a restart, whatever commits came next.
func TestOwedWipeSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outpost.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const gone, kept = "owed-wipe@example.org", "keep-me@example.net"
	for _, sub := range []Subscription{emailSub("em_gone", gone, "t-gone", nil, true), emailSub("em_kept", kept, "t-kept", nil, true)} {
		mustApply(t, s, Entry{At: t0, Subscribe: &NewSubscription{Sub: sub}})
	}
	at := t0.Add(time.Minute)
	mustApply(t, s, Entry{At: at, Confirm: &Confirmation{TokenHash: HashToken("t-gone")}})
	mustApply(t, s, Entry{At: at, Preferences: &Preferences{ID: "em_gone", Components: []string{"api"}}})
	// Room in the file: a commit that had to grow the memory map would
	// wait for the backup's read to end (bbolt remaps under a lock every
	// read holds), and the test would wait for the commit.
	for i := range 200 {
		id := fmt.Sprintf("em_pad%d", i)
		mustApply(t, s, Entry{At: at, Subscribe: &NewSubscription{Sub: emailSub(id, id+"@example.com", "t-"+id, nil, true)}})
	}
	for i := range 200 {
		mustApply(t, s, Entry{At: at, Subscription: &SubscriptionChange{ID: fmt.Sprintf("em_pad%d", i), Delete: true}})
	}

	// A backup being copied: its read transaction stays open until the
	// test reads the rest.
	pr, pw := io.Pipe()
	copied := make(chan error, 1)
	go func() {
		_, err := s.Backup(pw)
		pw.CloseWithError(err)
		copied <- err
	}()
	if _, err := io.ReadFull(pr, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	type applied struct {
		res Result
		err error
	}
	erased := make(chan applied, 1)
	go func() {
		res, err := s.Apply(Entry{At: at.Add(time.Minute), Subscription: &SubscriptionChange{ID: "em_gone", Erase: true}})
		erased <- applied{res, err}
	}()
	var res Result
	select {
	case a := <-erased:
		if a.err != nil {
			t.Fatal(a.err)
		}
		res = a.res
	case <-time.After(20 * time.Second):
		t.Fatal("the erasure did not return while a backup was open")
	}
	if res.Unwiped != nil {
		t.Fatalf("an erasure waiting for a reader reported %v, want the wipe owed", res.Unwiped)
	}
	if !bytes.Contains(mustRead(t, path), []byte(gone)) {
		t.Fatal("fixture: the wipe was not owed (the address is gone already)")
	}
	if _, err := io.Copy(io.Discard, pr); err != nil {
		t.Fatal(err)
	}
	if err := <-copied; err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // stopped before any later commit
		t.Fatal(err)
	}

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustApply(t, s, Entry{At: at.Add(2 * time.Minute), Preferences: &Preferences{ID: "em_kept", Components: []string{"api"}}})
	raw := mustRead(t, path)
	if n := bytes.Count(raw, []byte(gone)); n > 0 {
		t.Fatalf("after a restart and a commit the file still holds the erased address %d times: the owed wipe was forgotten", n)
	}
	if !bytes.Contains(raw, []byte(kept)) {
		t.Fatal("the witness's address is gone: the scan proves nothing")
	}
	if errs := s.Check(); len(errs) > 0 {
		t.Fatalf("the file after the wipe: %v", errs)
	}
}
