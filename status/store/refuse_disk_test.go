//go:build linux

package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A refusal whose record cannot be written (the disk full) is no refusal:
// the error says the write failed, the applied index stays, and once there
// is room again the same entry is refused and passed. The file lives on a
// tmpfs of 256 KiB the test mounts, filled up after the first entry.
func TestFullDiskIsNoRefusal(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("this test mounts a small tmpfs and needs root under CI")
		}
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Fatalf("mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, 0) }) // after the store's Close, registered later
	s, err := Open(filepath.Join(dir, "outpost.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	key := strings.Repeat("k", 300) // a long message: the record needs new pages soon
	mustApply(t, s, Entry{At: t0, Index: 1, Settings: []Setting{{Key: key, Value: "v", Create: true}}})
	filler := fill(t, dir)

	for i := uint64(2); i < 2+maxRefusals; i++ {
		e := Entry{At: t0, Index: i, Settings: []Setting{{Key: key, Value: "again", Create: true}}}
		_, err := s.Apply(e)
		var ref *Refusal
		if errors.As(err, &ref) {
			continue // its record fit in pages the file had
		}
		if err == nil || errors.Is(err, ErrSettingExists) {
			t.Fatalf("entry %d on a full disk: err = %v, want a failure that is no refusal", i, err)
		}
		if n, err := s.AppliedIndex(); err != nil || n != i-1 {
			t.Fatalf("applied index %d (%v) after a failed write, want %d", n, err, i-1)
		}
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply(e); !errors.As(err, &ref) || !errors.Is(err, ErrSettingExists) {
			t.Fatalf("entry %d with room again: err = %v, want the refusal", i, err)
		}
		if n, _ := s.AppliedIndex(); n != i {
			t.Fatalf("applied index %d after the retried refusal, want %d", n, i)
		}
		return
	}
	t.Fatalf("%d refusals recorded on a full disk: the disk never refused a page", maxRefusals)
}

// fill writes a file in dir until the file system is full, and returns
// its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for range 1024 { // 4 MiB at most: far above the mount's size
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return p
			}
			t.Fatal(err)
		}
	}
	t.Fatal("the tmpfs never filled")
	return ""
}
