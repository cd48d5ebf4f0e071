package store

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
)

// Two nodes that restore the same backup at different times and then
// apply the same entries must hold the same file, ids included: a floor
// drawn from the clock when each opened its copy would give each its own
// ids, which a replicated log cannot have. The floor comes from the first
// entry applied after the restore, so both reach it; and their ids still
// stand above every id the backup's source issued after the backup.
// synctest's clock is what the store reads at Open (if it reads one): an
// hour passes between the two opens.
func TestRestoredCopiesReachTheSameIDs(t *testing.T) {
	backup, lost := backupThenLose(t)
	synctest.Test(t, func(t *testing.T) {
		a := openRestored(t, backup)
		time.Sleep(time.Hour)
		b := openRestored(t, backup)
		at := t0.Add(3 * time.Hour)
		ia, ib := outageAfterRestore(t, a, at), outageAfterRestore(t, b, at)
		if !reflect.DeepEqual(ia, ib) {
			t.Errorf("the same entries gave other ids:\n%v\n%v", ia, ib)
		}
		da, db := dump(t, a), dump(t, b)
		differ := 0
		for k, v := range da {
			if db[k] != v {
				differ++
				t.Logf("%q: %q / %q", k, v, db[k])
			}
		}
		if differ > 0 || len(da) != len(db) {
			t.Errorf("the files differ: %d of %d keys / %d keys", differ, len(da), len(db))
		}
		if sa, sb := sequences(t, a), sequences(t, b); !reflect.DeepEqual(sa, sb) {
			t.Errorf("bucket sequences differ:\n%v\n%v", sa, sb)
		}
		for _, id := range ia {
			if id.seq <= lost.seq || id.id == lost.incident {
				t.Errorf("%s (sequence %d) does not stand above what the lost file issued (%s, up to %d)", id.id, id.seq, lost.incident, lost.seq)
			}
		}
	})
}

// lostIDs is the highest sequence and the incident the source issued
// after its backup, which a restore of the backup loses.
type lostIDs struct {
	seq      uint64
	incident string
}

// backupThenLose runs an outage, takes a marked backup, and runs another
// outage on the source after it.
func backupThenLose(t *testing.T) (string, lostIDs) {
	t.Helper()
	s, _ := openTemp(t)
	e := status.NewEngine(model(), nil)
	outageSteps(t, s, e, t0)
	backup := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(backup)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := MarkBackup(backup, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var lost lostIDs
	for _, id := range outageSteps(t, s, e, t0.Add(2*time.Hour)) {
		lost.seq = max(lost.seq, id.seq)
		if id.incident {
			lost.incident = id.id
		}
	}
	rows, err := s.RecentOutbox(100)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		lost.seq = max(lost.seq, r.Seq)
	}
	return backup, lost
}

// issued is an id an outage gave out: an event's, or an incident's.
type issued struct {
	id       string
	seq      uint64
	incident bool
}

// outageSteps drives a down-down-up outage through e into s and returns
// the ids it issued and the outbox sequences of its announcements.
func outageSteps(t *testing.T, s *Store, e *status.Engine, at time.Time) []issued {
	t.Helper()
	route := func(status.Event) []Dest { return []Dest{{Name: "mastodon"}} }
	var out []issued
	for i, o := range []probes.Outcome{probes.Down, probes.Down, probes.Up} {
		now := at.Add(time.Duration(i) * time.Minute)
		b := status.Batch{Now: now, Results: []status.CheckResult{result("api-1", now, o, 0)}}
		ch := e.Apply(b)
		if _, err := s.Apply(Entry{At: now, Step: NewStep(ch, e.State(), route)}); err != nil {
			t.Fatal(err)
		}
		for _, ev := range ch.Events {
			out = append(out, issued{id: ev.ID, seq: ev.Seq})
		}
		for _, inc := range ch.Incidents {
			out = append(out, issued{id: inc.ID, seq: inc.Seq, incident: true})
		}
	}
	rows, err := s.RecentOutbox(100)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) > 0 {
		out = append(out, issued{id: "outbox", seq: rows[0].Seq})
	}
	return out
}

// openRestored copies the backup to a data file of its own and opens it.
func openRestored(t *testing.T, backup string) *Store {
	t.Helper()
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "outpost.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, ok := s.Restored(); !ok {
		t.Fatal("the restore was not noticed")
	}
	return s
}

// outageAfterRestore applies what a node applies to a restored file: an
// entry recording the restore at at (before the engine loads its state),
// then an outage stepped by an engine loaded from the file.
func outageAfterRestore(t *testing.T, s *Store, at time.Time) []issued {
	t.Helper()
	mustApply(t, s, Entry{At: at, Audit: []status.AuditEntry{{At: at, Actor: "outpost", Action: "restore", Target: "data file"}}})
	st, err := s.LoadState(at, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return outageSteps(t, s, status.NewEngine(model(), st), at.Add(time.Minute))
}

// sequences is every top-level bucket's sequence, which dump does not see.
func sequences(t *testing.T, s *Store) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	if err := s.view(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error { out[string(name)] = b.Sequence(); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// Opening a restored file writes nothing of the restore: 'outpost verify'
// or 'export' on it, or a start that fails before its first entry, leave
// the mark for the first entry to draw the floor from.
func TestOpeningARestoredFileKeepsTheMark(t *testing.T) {
	backup, _ := backupThenLose(t)
	s := openRestored(t, backup)
	path := s.Path()
	s.Close()
	again, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if r, ok := again.Restored(); !ok || r.Floor != 0 {
		t.Fatalf("reopened before any entry: Restored() = %+v, %v; want the restore still owed", r, ok)
	}
}
