package cluster

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/outpost-status/outpost/status/machine"
	"github.com/outpost-status/outpost/status/store"
)

// fsm is raft's view of the machine: a committed log entry is applied by
// the machine at the entry's index (decoded by the store's codec, the
// engine run inside the apply); a snapshot is the replicated file; a
// restore installs one and reloads the engine.
type fsm struct {
	m       *machine.Machine
	st      *store.Store // the machine's: whether it halted
	dir     string       // where a snapshot waits between Snapshot and Persist
	applied *appliedMark
}

// appliedMark is the highest log index this member's file holds as far as
// its FSM applied it, with a channel closed at each advance: a forwarded
// write's wait for its entry wakes with the apply instead of reading the
// file every few milliseconds.
type appliedMark struct {
	mu    sync.Mutex
	index uint64
	moved chan struct{}
}

func newAppliedMark(index uint64) *appliedMark {
	return &appliedMark{index: index, moved: make(chan struct{})}
}

// at is the index now and the channel closed when it next advances.
func (a *appliedMark) at() (uint64, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.index, a.moved
}

// advance moves the mark to index (never back) and wakes the waiters.
func (a *appliedMark) advance(index uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if index <= a.index {
		return
	}
	a.index = index
	close(a.moved)
	a.moved = make(chan struct{})
}

// appliedTo advances the mark after entries up to index applied, unless
// the store halted: it applies nothing past the entry it halted at, so
// its file does not hold index.
func (f *fsm) appliedTo(index uint64) {
	if f.st.Halted() == nil {
		f.applied.advance(index)
	}
}

// applied is what Apply hands back to the leader's future.
type applied struct {
	res store.Result
	err error
}

func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	res, err := f.m.ApplyEncoded(l.Data, l.Index, l.Term)
	f.appliedTo(l.Index)
	return applied{res, err}
}

var _ raft.BatchingFSM = (*fsm)(nil)

// ApplyBatch applies a run of committed entries (up to raft's
// MaxAppendEntries) in one transaction of the replicated file: one fsync
// for the run, not one per entry (Machine.ApplyBatch; every entry's
// outcome is its own). Configuration changes raft sends along are not
// the machine's.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	cmds := make([]machine.Logged, 0, len(logs))
	at := make([]int, 0, len(logs))
	for i, l := range logs {
		if l.Type == raft.LogCommand {
			cmds = append(cmds, machine.Logged{Data: l.Data, Index: l.Index, Term: l.Term})
			at = append(at, i)
		}
	}
	for j, o := range f.m.ApplyBatch(cmds) {
		out[at[j]] = applied{o.Result, o.Err}
	}
	if len(cmds) > 0 {
		f.appliedTo(cmds[len(cmds)-1].Index)
	}
	return out
}

// fileHolds tells whether a data file applied up to applied holds what
// raft's snapshot at snapshot holds: every log entry in between is one
// the FSM does not apply. Raft counts those as applied (and a snapshot
// taken next is stamped with them) though the file never sees them. The
// entries are read from raft's log, which keeps those near the snapshot
// (trailing_logs); a missing one, or a command, means the file is behind.
// The gap is a handful of entries (a barrier per told commit between two
// commands); past maxHeldGap it is not read, and the snapshot restores.
func fileHolds(logs raft.LogStore, applied, snapshot uint64) bool {
	if applied >= snapshot {
		return true
	}
	if snapshot-applied > maxHeldGap {
		return false
	}
	for i := applied + 1; i <= snapshot; i++ {
		var l raft.Log
		if err := logs.GetLog(i, &l); err != nil || !fsmSkips(l.Type) {
			return false
		}
	}
	return true
}

// maxHeldGap bounds the entries fileHolds reads at start.
const maxHeldGap = 1000

// fsmSkips tells whether the FSM leaves an entry of type t out of the
// file: it applies commands only (Apply, ApplyBatch).
func fsmSkips(t raft.LogType) bool {
	switch t {
	case raft.LogBarrier, raft.LogNoop, raft.LogConfiguration:
		return true
	}
	return false
}

// Snapshot copies the replicated state now, on raft's applier goroutine
// (no entry applies meanwhile, so the copy and its index agree), into a
// file beside raft's; Persist streams that file to the sink later while
// entries apply again. Applying waits for the copy (about 3 s at
// 2.3 GiB, docs/benchmarks.md).
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	tmp, err := os.CreateTemp(f.dir, snapshotCopy+"*")
	if err != nil {
		return nil, fmt.Errorf("fsm snapshot: %w", err)
	}
	if _, err := f.m.Snapshot(tmp); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("fsm snapshot: %w", err)
	}
	return &fileSnapshot{f: tmp}, nil
}

// Restore installs a snapshot from the leader (or this node's own, at
// start) and loads the engine from it.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.m.Restore(rc); err != nil {
		return fmt.Errorf("fsm restore: %w", err)
	}
	if index, err := f.st.AppliedIndex(); err == nil {
		f.applied.advance(index)
	}
	return nil
}

type fileSnapshot struct{ f *os.File }

func (s *fileSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		sink.Cancel()
		return err
	}
	if _, err := io.Copy(sink, s.f); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fileSnapshot) Release() {
	s.f.Close()
	os.Remove(s.f.Name())
}

// snapshotCopy begins the name of a snapshot's copy between Snapshot and
// Release.
const snapshotCopy = "fsm-snapshot-"

// removeSnapshotCopies removes the copies a node that died between
// Snapshot and Release left in dir (each the size of the replicated
// file). Only at start: no snapshot is under way then.
func removeSnapshotCopies(dir string, log *slog.Logger) {
	left, _ := filepath.Glob(filepath.Join(dir, snapshotCopy+"*"))
	for _, p := range left {
		if err := os.Remove(p); err != nil {
			log.Warn("a snapshot's copy left by a crash not removed", slog.String("path", p), slog.Any("error", err))
		}
	}
}

// raftDir is where a node's raft files live: beside its data file, so a
// node writes only under its own data folder.
func raftDir(dataPath string) string { return filepath.Clean(dataPath) + ".raft" }
