package store

import (
	"errors"
	"fmt"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// Batch applies a run of a replicated log's committed entries in one
// transaction of the replicated file (and their raw results in one of the
// local file): one commit and one fsync for the run instead of one each,
// which is what keeps a cluster's appliers up with its writers. Each entry
// still applies as Apply would apply it after the ones before; but a
// transaction cannot keep some entries and drop one, so an entry that is
// refused or fails poisons the batch: the caller rolls it back and applies
// the run one entry at a time (Apply), where a refusal refuses that entry
// alone.
//
// The caller drives it (Position, Apply, then Commit or Rollback) on one
// goroutine; nothing of the caller runs inside the transaction.
type Batch struct {
	s    *Store
	tx   *bolt.Tx
	done []batched
	err  error // the first failure: only Rollback is left
}

type batched struct {
	e   Entry
	res Result
}

// ErrBatchFailed: an earlier entry of the batch failed; roll it back.
var ErrBatchFailed = errors.New("an earlier entry of the batch failed")

// Begin opens a batch: the replicated file's write transaction, held
// until Commit or Rollback.
func (s *Store) Begin() (*Batch, error) {
	if err := s.Halted(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	tx, err := s.db.Begin(true)
	if err != nil {
		s.mu.RUnlock()
		return nil, fmt.Errorf("begin a batch: %w", err)
	}
	return &Batch{s: s, tx: tx}, nil
}

// guard turns a damaged page's panic or fault into ErrDamaged, as view
// and update do.
func (b *Batch) guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer damaged(b.s.path, &err)
	return fn()
}

// Position reads the file's Position for writer as the batch leaves it.
func (b *Batch) Position(writer string) (Position, error) {
	var p Position
	err := b.guard(func() error {
		p = Position{Applied: appliedIndex(b.tx), Model: string(b.tx.Bucket(bucketMeta).Get(keyModel))}
		if writer != "" {
			p.WriterSeq = writerSeq(b.tx, writer)
		}
		return nil
	})
	return p, err
}

// Apply writes e in the batch's transaction. Any error (a refusal
// included) leaves part of e in the transaction: the batch must be rolled
// back.
func (b *Batch) Apply(e Entry) (Result, error) {
	if b.err != nil {
		return Result{}, ErrBatchFailed
	}
	var res Result
	if err := b.guard(func() error { return applyEntry(b.tx, e, &res) }); err != nil {
		b.err = err
		return Result{}, err
	}
	b.done = append(b.done, batched{e, res})
	return res, nil
}

// Commit commits the batch and then does for each entry, in order, what
// Apply does after its commit (signals, the local file, a wipe owed). It
// returns each entry's Result; on an error nothing of the batch is
// written.
func (b *Batch) Commit() ([]Result, error) {
	if b.err != nil {
		b.Rollback()
		return nil, ErrBatchFailed
	}
	err := b.guard(b.tx.Commit)
	b.release()
	if err != nil {
		return nil, fmt.Errorf("commit a batch of %d entries: %w", len(b.done), err)
	}
	s := b.s
	for _, d := range b.done {
		if !d.res.Skipped {
			s.committed(d.e, d.res)
			s.floorRaised(d.res.floor)
		}
	}
	s.applyLocalBatch(b.done)
	out := make([]Result, len(b.done))
	for i, d := range b.done {
		out[i] = d.res
		out[i].Unwiped = s.scrubAfter(d.e)
	}
	return out, nil
}

// Rollback drops the batch; nothing of it is written. Once committed or
// rolled back, it does nothing.
func (b *Batch) Rollback() {
	if b.tx == nil {
		return
	}
	b.tx.Rollback()
	b.release()
}

func (b *Batch) release() {
	b.tx = nil
	b.s.mu.RUnlock()
}

// applyLocalBatch writes the node-local parts of a committed batch in log
// order: the raw results of a run of steps in one transaction, a prune
// after the results before it.
func (s *Store) applyLocalBatch(done []batched) {
	var raw []Input
	flush := func() {
		if len(raw) > 0 {
			s.applyLocal(Entry{Step: &Step{Results: raw}}, &Result{})
			raw = nil
		}
	}
	for i := range done {
		d := &done[i]
		if d.res.Skipped {
			continue
		}
		if d.e.Step != nil {
			raw = append(raw, d.e.Step.Results...)
		}
		if d.e.Prune != nil {
			flush()
			s.applyLocal(Entry{At: d.e.At, Prune: d.e.Prune}, &d.res)
		}
	}
	flush()
}
