package cluster

import (
	"os"
	"path/filepath"
	"testing"
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
