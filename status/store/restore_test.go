package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
)

// A restored backup continues every sequence above a floor drawn by the
// first entry applied after it is opened (from the entry's time): the
// incident, update and event ids and the outbox sequence (behind channels'
// idempotency keys) of what the lost file issued after the backup never
// come again, and restoring the same backup twice, with a later first
// entry, draws two floors. A file that is not a restored backup is left
// alone.
func TestRestoredBackupNeverRepeatsIDs(t *testing.T) {
	s, path := openTemp(t)
	e := status.NewEngine(model(), nil)
	route := func(status.Event) []Dest { return []Dest{{Name: "mastodon"}} }
	outage := func(s *Store, e *status.Engine, at time.Time) *status.Changes {
		t.Helper()
		var ch *status.Changes
		for i := range 2 {
			b := status.Batch{Now: at.Add(time.Duration(i) * time.Second), Results: []status.CheckResult{result("api-1", at.Add(time.Duration(i)*time.Second), probes.Down, 0)}}
			ch = e.Apply(b)
			if err := step(s, ch, e.State(), route, b.Now); err != nil {
				t.Fatal(err)
			}
		}
		b := status.Batch{Now: at.Add(time.Minute), Results: []status.CheckResult{result("api-1", at.Add(time.Minute), probes.Up, 0)}}
		if err := step(s, e.Apply(b), e.State(), route, b.Now); err != nil {
			t.Fatal(err)
		}
		return ch
	}
	outage(s, e, t0)
	backup := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(backup)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := MarkBackup(backup, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The original goes on after the backup and publishes an incident.
	lost := outage(s, e, t0.Add(2*time.Hour))
	lostRows, _ := s.RecentOutbox(100)
	s.Close()

	restoreAt := func(now time.Time) (*Store, *status.Engine) {
		t.Helper()
		data, err := os.ReadFile(backup)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		info, ok := r.Restored()
		if !ok || info.Floor != 0 || !info.BackupAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("restore not noticed, or a floor drawn at Open: %+v %v", info, ok)
		}
		// The first entry, before the engine loads its state, as the node
		// writes it.
		mustApply(t, r, Entry{At: now, Audit: []status.AuditEntry{{At: now, Actor: "outpost", Action: "restore", Target: "data file"}}})
		if info, _ := r.Restored(); info.Floor != uint64(now.UnixMilli()) {
			t.Fatalf("floor %d after the first entry at %s, want %d", info.Floor, now, now.UnixMilli())
		}
		st, err := r.LoadState(now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return r, status.NewEngine(model(), st)
	}
	for i, now := range []time.Time{t0.Add(3 * time.Hour), t0.Add(4 * time.Hour)} {
		r, re := restoreAt(now)
		again := outage(r, re, now)
		rows, err := r.RecentOutbox(100)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range again.Events {
			for _, old := range lost.Events {
				if ev.ID == old.ID || (ev.Incident != nil && old.Incident != nil && ev.Incident.ID == old.Incident.ID) {
					t.Errorf("restore %d: id %s/%v repeats one the lost file published", i, ev.ID, ev.Incident)
				}
			}
			if ev.Seq <= lost.Events[len(lost.Events)-1].Seq {
				t.Errorf("restore %d: event sequence %d is not above the lost file's", i, ev.Seq)
			}
		}
		maxLost := uint64(0)
		for _, row := range lostRows {
			maxLost = max(maxLost, row.Seq)
		}
		if newest := rows[0].Seq; newest <= maxLost || newest <= uint64(now.UnixMilli()) {
			t.Errorf("restore %d: outbox sequence %d repeats the lost file's range (max %d)", i, newest, maxLost)
		}
		// Opened again, it is no longer a restore: the floor stays put.
		r.Close()
		r2, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := r2.Restored(); ok {
			t.Error("a reopened file was taken for a restore again")
		}
		r2.Close()
	}
}
