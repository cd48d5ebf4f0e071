package machine

import (
	"errors"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// Logged is one entry of a replicated log as its applier hands it over:
// the encoded entry at its index and term.
type Logged struct {
	Data        []byte
	Index, Term uint64
}

// Outcome is what applying one entry of a batch gave.
type Outcome struct {
	Result store.Result
	Err    error
}

// ApplyBatch applies a run of committed entries in log order (raft's
// BatchingFSM calls it with up to MaxAppendEntries). The run is one
// transaction of the replicated file, so one fsync, when every entry
// applies; each entry's outcome is what ApplyEncoded would have given it.
// When one is refused or fails, nothing of the run is kept, in memory
// either, and the run applies one entry at a time: a refusal refuses that
// entry alone, and a failure halts at its index as ApplyEncoded does.
func (m *Machine) ApplyBatch(logs []Logged) []Outcome {
	out := make([]Outcome, len(logs))
	if len(logs) > 1 && m.applyTogether(logs, out) {
		return out
	}
	for i, l := range logs {
		out[i].Result, out[i].Err = m.ApplyEncoded(l.Data, l.Index, l.Term)
	}
	return out
}

// applyTogether applies logs in one transaction and fills out. false:
// nothing of them was applied (the engine is as it was), and out is
// untouched.
func (m *Machine) applyTogether(logs []Logged, out []Outcome) bool {
	entries, ok := m.together(logs)
	if !ok {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.st.Begin()
	if err != nil {
		return false
	}
	steps := make([]*status.Changes, len(entries))
	stepped := false
	for i, e := range entries {
		var err error
		if e.Inputs == nil {
			_, err = b.Apply(e)
		} else {
			_, steps[i], err = m.step(b, e)
			stepped = stepped || steps[i] != nil
		}
		if err != nil {
			b.Rollback()
			return m.dropped(stepped, err, logs, out)
		}
	}
	results, err := b.Commit()
	if err != nil {
		return m.dropped(stepped, err, logs, out)
	}
	for i := range results {
		out[i].Result = results[i]
		if steps[i] != nil {
			m.failing = false
			out[i].Result.Changes = steps[i]
			m.note(steps[i], entries[i].At)
		}
	}
	return true
}

// together decodes logs for one transaction: false when one of them must
// apply on its own (ApplyEncoded): an entry that does not decode (the
// store halts at its index), one that sets the model (inputs after it are
// judged under the new one, and may have to wait for it), an erasure (its
// file is wiped after its own commit), or inputs while this member's
// model is not the cluster's (they wait for a reload).
func (m *Machine) together(logs []Logged) ([]store.Entry, bool) {
	if m.st.Halted() != nil || m.Stalled() != "" {
		return nil, false
	}
	entries := make([]store.Entry, len(logs))
	inputs := false
	for i, l := range logs {
		e, err := store.DecodeEntry(l.Data)
		if err != nil || l.Index == 0 || e.Model != "" || (e.Subscription != nil && e.Subscription.Erase) {
			return nil, false
		}
		e.Index, e.Term = l.Index, l.Term
		entries[i] = e
		inputs = inputs || e.Inputs != nil
	}
	if inputs {
		cur, err := m.st.Model()
		if err != nil || (cur != "" && cur != m.Fingerprint()) {
			return nil, false
		}
	}
	return entries, true
}

// dropped undoes a batch that was not committed (mu held): the engine goes
// back to the file's state, and the run applies one entry at a time. If
// the engine cannot be read back, no entry can apply: each says why, and
// the store halts at the first.
func (m *Machine) dropped(stepped bool, cause error, logs []Logged, out []Outcome) bool {
	if !stepped {
		return false
	}
	err := m.undo(cause)
	if !errors.Is(err, ErrNoState) {
		return false
	}
	err = m.st.HaltOn(logs[0].Index, err)
	for i := range out {
		out[i].Err = err
	}
	return true
}
