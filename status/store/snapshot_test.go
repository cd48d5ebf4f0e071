package store

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// scripted is a store built by the determinism test's script.
func scripted(t *testing.T) *Store {
	t.Helper()
	s, _ := openTemp(t)
	for i, e := range script() {
		if _, err := s.Apply(e); err != nil {
			t.Fatalf("script entry %d: %v", i, err)
		}
	}
	return s
}

// sameFile compares two stores bucket by bucket, key by key, with each
// bucket's sequence and the applied index: every bucket in the store's
// list must be in both, and the file may hold none the list leaves out.
func sameFile(t *testing.T, a, b *Store) {
	t.Helper()
	da, db := bucketDump(t, a), bucketDump(t, b)
	listed := map[string]bool{}
	for _, name := range buckets() {
		listed[string(name)] = true
	}
	for name := range maps.Keys(db) {
		if !listed[name] {
			t.Errorf("bucket %s is in the restored file but not in buckets(): it is compared nowhere", name)
		}
	}
	for _, name := range buckets() {
		ka, okA := da[string(name)]
		kb, okB := db[string(name)]
		if !okA || !okB {
			t.Errorf("bucket %s missing (%v / %v)", name, okA, okB)
			continue
		}
		for k, v := range ka {
			if w, ok := kb[k]; !ok || w != v {
				t.Errorf("%s/%s: %q / %q (present %v)", name, k, v, w, ok)
			}
		}
		for k := range kb {
			if _, ok := ka[k]; !ok {
				t.Errorf("%s/%s: only in the restored store", name, k)
			}
		}
	}
	ia, errA := a.AppliedIndex()
	ib, errB := b.AppliedIndex()
	if errA != nil || errB != nil || ia != ib {
		t.Errorf("applied index %d / %d (%v / %v)", ia, ib, errA, errB)
	}
}

// A snapshot of a store built by the script, restored into a store that
// held other content (further along the log, halted), leaves the second
// file equal to the first, bucket by bucket, key by key, with the same
// applied index; the store's in-memory copies follow the new file and it
// goes on applying from the snapshot's index.
func TestSnapshotRestoresEveryBucket(t *testing.T) {
	a := scripted(t)
	var snap bytes.Buffer
	info, err := a.Snapshot(&snap)
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(len(script())); info.Index != want || info.Size != int64(snap.Len()) || info.Size == 0 {
		t.Errorf("info = %+v, want index %d and size %d", info, want, snap.Len())
	}

	b, path := openTemp(t)
	for i := range 60 {
		mustApply(t, b, Entry{At: t0, Index: uint64(i + 1), Settings: []Setting{{Key: fmt.Sprintf("other/%d", i), Value: "x"}}})
	}
	if _, err := applyEncoded(b, []byte{0xff}, 61); !errors.Is(err, ErrHalted) {
		t.Fatalf("garbage entry: %v, want a halt", err)
	}
	subs, incs := b.SubscriptionsVersion(), b.IncidentsVersion()
	for len(b.Work()) > 0 {
		<-b.Work()
	}

	if err := b.Restore(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	sameFile(t, a, b)
	if err := b.Halted(); err != nil {
		t.Errorf("halted after restore: %v", err)
	}
	if !b.LastCommit().Equal(a.LastCommit()) {
		t.Errorf("last commit %v, want the snapshot's %v", b.LastCommit(), a.LastCommit())
	}
	if b.SubscriptionsVersion() == subs || b.IncidentsVersion() == incs {
		t.Errorf("versions kept (subscriptions %d, incidents %d): caches of the old file look fresh", subs, incs)
	}
	select {
	case <-b.Work():
	default:
		t.Error("no work signal: the delivery loops would not look at the new file's outbox")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*")); len(leftovers) != 2 {
		t.Errorf("files beside the data file: %v, want it and its local file", leftovers)
	}
	// The log resumes after the snapshot's index.
	next := Entry{At: t0, Index: info.Index + 1, Settings: []Setting{{Key: "after", Value: "y"}}}
	if res := mustApply(t, b, next); res.Skipped {
		t.Error("the entry after the snapshot was skipped")
	}
	if v, err := b.Setting("other/1"); err != nil || v != "" {
		t.Errorf("the old file's setting survived: %q (%v)", v, err)
	}
}

// A snapshot that is no sound Outpost file is refused with a clear error
// before anything is swapped: the live file stays as it was and in use.
func TestRestoreRefusesABadSnapshot(t *testing.T) {
	good := scripted(t)
	var snap bytes.Buffer
	if _, err := good.Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	newer := fileWith(t, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, be32(SchemaVersion+1)) })
	undecodable := fileWith(t, func(tx *bolt.Tx) error { return tx.Bucket(bucketChecks).Put([]byte("api-1"), []byte("{not json")) })
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "empty"},
		{"garbage", strings.Repeat("not a bbolt file ", 1000), "is damaged"},
		{"truncated", snap.String()[:snap.Len()/2], "is damaged"},
		{"newer schema", newer, "newer than this Outpost"},
		{"undecodable state", undecodable, "is damaged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, path := openTemp(t)
			mustApply(t, s, Entry{At: t0, Index: 3, Settings: []Setting{{Key: "live", Value: "kept"}}})
			before := bucketDump(t, s)
			err := s.Restore(strings.NewReader(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "restore snapshot") {
				t.Fatalf("Restore = %v, want a restore error saying %q", err, tc.want)
			}
			if after := bucketDump(t, s); !maps.EqualFunc(before, after, maps.Equal) {
				t.Error("the live file changed")
			}
			if res := mustApply(t, s, Entry{At: t0, Index: 4, Settings: []Setting{{Key: "live", Value: "still"}}}); res.Skipped {
				t.Error("the store no longer applies")
			}
			if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*")); len(leftovers) != 2 {
				t.Errorf("files beside the data file: %v, want it and its local file", leftovers)
			}
		})
	}
}

// fileWith is the bytes of a fresh store's file after fn wrote to it.
func fileWith(t *testing.T, fn func(*bolt.Tx) error) string {
	t.Helper()
	s, path := openTemp(t)
	if err := s.update(fn); err != nil {
		t.Fatal(err)
	}
	s.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Reads and writes that run while snapshots are installed see the old
// file or the new one, never a half-swapped store or an error.
func TestRestoreUnderConcurrentReadsAndWrites(t *testing.T) {
	snaps := map[string][]byte{}
	for _, name := range []string{"one", "two"} {
		src, _ := openTemp(t)
		mustApply(t, src, Entry{At: t0, Index: 1, Settings: []Setting{{Key: "which", Value: name}}})
		var buf bytes.Buffer
		if _, err := src.Snapshot(&buf); err != nil {
			t.Fatal(err)
		}
		snaps[name] = buf.Bytes()
	}
	s, _ := openTemp(t)
	mustApply(t, s, Entry{At: t0, Index: 1, Settings: []Setting{{Key: "which", Value: "old"}}})

	deadline := time.Now().Add(30 * time.Second)
	var stop sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 8)
	worker := func(fn func(i int) error) {
		defer stop.Done()
		for i := 0; i < 100000 && time.Now().Before(deadline); i++ {
			select {
			case <-done:
				return
			default:
			}
			if err := fn(i); err != nil {
				errs <- err
				return
			}
		}
	}
	stop.Add(3)
	go worker(func(int) error {
		v, err := s.Setting("which")
		if err == nil && v != "old" && v != "one" && v != "two" {
			err = fmt.Errorf("read %q: neither the old file nor a snapshot", v)
		}
		return err
	})
	go worker(func(int) error { _, err := s.AppliedIndex(); return err })
	go worker(func(i int) error {
		_, err := s.Apply(Entry{At: t0, Settings: []Setting{{Key: "local", Value: fmt.Sprint(i)}}})
		return err
	})
	for i := range 20 {
		name := []string{"one", "two"}[i%2]
		if err := s.Restore(bytes.NewReader(snaps[name])); err != nil {
			t.Fatalf("restore %d: %v", i, err)
		}
		if v, err := s.Setting("which"); err != nil || v != name {
			t.Fatalf("after restore %d: which = %q (%v), want %q", i, v, err, name)
		}
	}
	close(done)
	stop.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
