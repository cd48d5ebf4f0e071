package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
)

// Open reads what the engine loads (engine meta, check, component and
// incident state) and the incident indexes through the decoders the
// readers use: a value that does not decode, an index entry naming no
// incident, or a key whose size runs past the mapped file is ErrDamaged at
// open, with the path, never a JSON error, a fresh start or a fault.
func TestOpenChecksWhatTheEngineLoads(t *testing.T) {
	_, path := openTemp(t)
	s, err := Open(path+".src", Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := status.NewEngine(model(), nil)
	at := t0
	for i := range 100 { // 50 incidents: the start index has a page of its own
		o := probes.Down
		if i%2 == 1 {
			o = probes.Up
		}
		at = at.Add(time.Hour)
		drive(t, s, e, nil, status.Batch{Now: at, Results: []status.CheckResult{result("api-1", at, o, 0), result("api-1", at, o, 0)}})
	}
	s.Close()
	good, err := os.ReadFile(path + ".src")
	if err != nil {
		t.Fatal(err)
	}
	put := func(bucket []byte, k, v []byte) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			if k == nil {
				k, _ = tx.Bucket(bucket).Cursor().First()
			}
			return tx.Bucket(bucket).Put(k, v)
		}
	}
	for _, tc := range []struct {
		name   string
		tamper func(*bolt.Tx) error // through bbolt: the pages stay sound
		raw    func(b []byte, root func(bucket []byte) int)
	}{
		{name: "engine meta", tamper: put(bucketMeta, keyEngine, []byte(`{"seq":`))},
		{name: "check state", tamper: put(bucketChecks, nil, []byte(`{"status":"operational","since":"2026-0e-10T12:07:00Z"}`))},
		{name: "component state", tamper: put(bucketComponents, nil, []byte("\x17"))},
		{name: "incident", tamper: put(bucketIncidents, nil, []byte(`{"id":"inc-1","started_at":"2026-\x983-10T12:37:00Z"}`))},
		{name: "id index", tamper: put(bucketIncidentID, []byte("inc-999"), be64(999))},
		{name: "start index", tamper: put(bucketIncidentStart, []byte("short"), nil)},
		{name: "start index key size", raw: func(b []byte, root func([]byte) int) {
			// A leaf element's key size beyond the map: reading the key
			// faults (SIGSEGV), which nothing recovers unless asked to.
			ps := int(binary.NativeEndian.Uint32(b[16+8:])) // the page size, in meta 0
			binary.NativeEndian.PutUint32(b[root(bucketIncidentStart)*ps+16+16*10+8:], 0x7fff0000)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := path + "." + strings.ReplaceAll(tc.name, " ", "-")
			if err := os.WriteFile(p, good, 0o600); err != nil {
				t.Fatal(err)
			}
			db, err := bolt.Open(p, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			roots := map[string]int{}
			db.View(func(tx *bolt.Tx) error {
				return tx.ForEach(func(name []byte, b *bolt.Bucket) error { roots[string(name)] = int(b.Root()); return nil })
			})
			if tc.tamper != nil {
				err = db.Update(tc.tamper)
			}
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
			if tc.raw != nil {
				b, _ := os.ReadFile(p)
				if roots[string(bucketIncidentStart)] == 0 {
					t.Fatal("the start index is inline")
				}
				tc.raw(b, func(bucket []byte) int { return roots[string(bucket)] })
				os.WriteFile(p, b, 0o600)
			}
			s, err := Open(p, Options{})
			if err == nil {
				s.Close()
				t.Fatal("a damaged file opens")
			}
			if !errors.Is(err, ErrDamaged) || !strings.HasPrefix(err.Error(), p+" is damaged: restore a backup (docs/operations.md)") {
				t.Fatalf("Open: %v, want %s %v", err, p, ErrDamaged)
			}
		})
	}
}

// A key size that sends bbolt past the mapped file, in a page Open does not
// read (raw results): the read that meets it, and the full check, report
// ErrDamaged instead of the process dying of "unexpected fault address".
func TestFaultIsDamage(t *testing.T) {
	s, path := openTemp(t)
	e := status.NewEngine(model(), nil)
	at := t0
	for range 200 { // raw results on pages of their own
		at = at.Add(time.Minute)
		drive(t, s, e, nil, status.Batch{Now: at, Results: []status.CheckResult{result("api-1", at, probes.Up, time.Millisecond)}})
	}
	var root int
	s.local.View(func(tx *bolt.Tx) error {
		root = int(tx.Bucket(bucketRaw).Root())
		return nil
	})
	s.Close()
	if root == 0 {
		t.Fatal("the raw results are inline")
	}
	local := LocalPath(path) // raw results are node-local
	b, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	ps := int(binary.NativeEndian.Uint32(b[16+8:]))
	for binary.NativeEndian.Uint16(b[root*ps+8:]) == 0x01 { // a branch: down its first child
		root = int(binary.NativeEndian.Uint64(b[root*ps+16+8:]))
	}
	if flags := binary.NativeEndian.Uint16(b[root*ps+8:]); flags != 0x02 {
		t.Fatalf("page %d has flags %#x, want a leaf", root, flags)
	}
	binary.NativeEndian.PutUint32(b[root*ps+16+16*5+8:], 0x7fff0000) // element 5's key size
	os.WriteFile(local, b, 0o600)
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("Open reads no results, yet: %v", err)
	}
	defer s.Close()
	if _, err := s.Results("", t0, at.Add(time.Hour), 1000); !errors.Is(err, ErrDamaged) { // every check: it decodes what it meets
		t.Errorf("Results: %v, want %v", err, ErrDamaged)
	}
	if errs := s.Check(); len(errs) == 0 || !errors.Is(errs[0], ErrDamaged) {
		t.Errorf("Check: %v, want %v first", errs, ErrDamaged)
	}
}

// A panic that is a bug in our own code under a transaction is not
// damage: it must crash with its own message and stack, not tell the
// operator to restore a backup of a sound file. Damage is a memory fault
// or a panic raised inside bbolt.
func TestCodeBugUnderTransactionIsNotDamage(t *testing.T) {
	s, _ := openTemp(t)
	for _, tc := range []struct {
		name string
		run  func(fn func(*bolt.Tx) error) error
	}{{"view", s.view}, {"update", s.update}} {
		t.Run(tc.name, func(t *testing.T) {
			var got any
			err := func() (err error) {
				defer func() { got = recover() }()
				return tc.run(func(*bolt.Tx) error {
					var m map[string]int
					//lint:ignore SA5000 the plain bug this test is about
					m["x"] = 1 // assignment to entry in nil map
					return nil
				})
			}()
			if errors.Is(err, ErrDamaged) || got == nil || !strings.Contains(fmt.Sprint(got), "nil map") {
				t.Fatalf("a nil-map write gave err %v, panic %v; want the panic itself", err, got)
			}
		})
	}
	// The store stays usable: the update rolled back, nothing is held.
	if _, err := s.SiteKeys(); err != nil {
		t.Fatalf("after the re-panic: %v", err)
	}
}

// A page header whose overflow count is damaged (its high byte flipped:
// the run reaches far past the end of the file) is damage Check reports
// at once. bbolt's own check trusts the count: it looped about 6×10⁸
// times filling a map of page ids, so `outpost verify`, `backup` and
// `export` hung on such a file (TestDamagedDataFiles/seeded, flip 29).
func TestCheckReportsARunPastTheFile(t *testing.T) {
	s, path := openTemp(t)
	for i := range 300 {
		at := t0.Add(time.Duration(i) * time.Second)
		mustApply(t, s, Entry{At: at, Step: &Step{Results: []Input{{Check: "api-1", At: at, Outcome: probes.Up, Message: strings.Repeat("m", 200)}}}})
	}
	var root int
	s.local.View(func(tx *bolt.Tx) error {
		root = int(tx.Bucket(bucketRaw).Root())
		return nil
	})
	s.Close()
	if root == 0 {
		t.Fatal("the raw results are inline")
	}
	local := LocalPath(path) // raw results are node-local
	b, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	ps := int(binary.NativeEndian.Uint32(b[16+8:]))
	b[root*ps+15] ^= 0x24 // the overflow count's high byte
	if err := os.WriteFile(local, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("Open reads no results, yet: %v", err)
	}
	// No deferred Close: a Check that never ends holds its read
	// transaction, and Close would wait for it.
	done := make(chan []error, 1)
	go func() { done <- s.Check() }()
	select {
	case errs := <-done:
		s.Close()
		if len(errs) == 0 || !errors.Is(errs[0], ErrDamaged) || !strings.Contains(errs[0].Error(), fmt.Sprintf("page %d", root)) {
			t.Errorf("Check: %v, want %v naming page %d first", errs, ErrDamaged, root)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Check still running after 30 s: it walks the damaged run")
	}
}
