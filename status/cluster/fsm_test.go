package cluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// A node that died between a snapshot's copy and its release (a crash,
// SIGKILL) left the copy of its whole replicated file beside raft's: the
// next start removes it, so each crash does not leave a file's worth of
// disk behind.
func TestSnapshotCopyLeftByACrashIsRemoved(t *testing.T) {
	m := threeNodes(t)[0]
	dir := raftDir(m.cfg.Storage.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(dir, "fsm-snapshot-123456")
	if err := os.WriteFile(left, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	m.start(t, 0)
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Fatalf("the copy a crash left is still there after a start: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "raft.db")); err != nil {
		t.Fatalf("raft's own files: %v", err)
	}
}

// A data file applied to index 3 holds what raft's snapshot at 3 + gap
// holds when every entry in between is one the FSM leaves out of the
// file (raft's barriers and no-ops, configuration changes); a command in
// between, an entry missing from raft's log, or a gap too long to read
// at start, and it does not (the snapshot restores, as before). The
// entries are in a real raft log file.
func TestFileHoldsWhatTheFSMSkips(t *testing.T) {
	for _, tc := range []struct {
		name     string
		applied  uint64
		gap      []raft.LogType // the entries after applied, up to the snapshot
		snapshot uint64         // 0: applied + len(gap)
		want     bool
	}{
		{"at the snapshot", 3, nil, 0, true},
		{"past the snapshot", 9, nil, 5, true},
		{"a barrier", 3, []raft.LogType{raft.LogBarrier}, 0, true},
		{"a no-op, a configuration, barriers", 3, []raft.LogType{raft.LogNoop, raft.LogConfiguration, raft.LogBarrier, raft.LogBarrier}, 0, true},
		{"a command", 3, []raft.LogType{raft.LogBarrier, raft.LogCommand, raft.LogBarrier}, 0, false},
		{"an entry not in the log", 3, []raft.LogType{raft.LogBarrier}, 5, false},
		{"a gap too long to read", 3, nil, 3 + maxHeldGap + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(t.TempDir(), "raft.db")})
			if err != nil {
				t.Fatal(err)
			}
			defer logs.Close()
			var entries []*raft.Log
			for i := uint64(1); i <= tc.applied; i++ {
				entries = append(entries, &raft.Log{Index: i, Term: 1, Type: raft.LogCommand})
			}
			for i, typ := range tc.gap {
				entries = append(entries, &raft.Log{Index: tc.applied + 1 + uint64(i), Term: 1, Type: typ})
			}
			if err := logs.StoreLogs(entries); err != nil {
				t.Fatal(err)
			}
			snapshot := tc.snapshot
			if snapshot == 0 {
				snapshot = tc.applied + uint64(len(tc.gap))
			}
			if got := fileHolds(logs, tc.applied, snapshot); got != tc.want {
				t.Errorf("file at %d, snapshot at %d: holds %v, want %v", tc.applied, snapshot, got, tc.want)
			}
		})
	}
}
