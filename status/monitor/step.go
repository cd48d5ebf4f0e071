package monitor

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/machine"
	"github.com/outpost-status/outpost/status/store"
)

// A step: the batch written to the log as inputs, and what the steps the
// machine applied asked for.

// step writes one batch to the log as inputs; the machine applies the
// engine over it and commits the step. On success what the step asked for
// is acted on at once (published, re-checks scheduled), before a command's
// reply goes out, where this member's file applied it when Apply returned:
// a cluster's follower does not wait for that with results only (its Log
// returns once the leader made them), so they are acted on when its own
// machine applies them (Machine.Applied, as for another writer's). A step
// whose commit fails is undone by the machine; the error says so, and the
// page says monitoring is delayed.
func (m *Monitor) step(b status.Batch) (*status.Changes, error) {
	m.lastStep.Store(m.o.Now().UnixNano())
	m.keepScreenshots(b.Results)
	start := time.Now()
	if m.unsure != nil { // first the entry whose outcome was unknown, as it was
		if _, err := m.o.Log.Apply(*m.unsure); err != nil {
			return nil, m.undo(b.Now, err)
		}
		m.unsure = nil
	}
	in := store.NewInputs(b.Results, b.Commands, m.o.Node, m.o.Location)
	if m.writer != "" { // a cluster's member: its model, and the entry's key
		in.Model = m.o.Machine.Fingerprint()
		m.seq++
		in.Writer, in.Seq = m.writer, m.seq
	}
	e := store.Entry{At: b.Now, Inputs: in}
	res, err := m.o.Log.Apply(e)
	if errors.Is(err, store.ErrOutcomeUnknown) && len(in.Commands) > 0 {
		// Its commands may have been made: a person waits for the answer,
		// so the entry goes again at once under the same key (the log
		// waits for a new leader, within its bound). Whichever try made
		// it, it is made once; a skipped resend says the first did.
		var again error
		if res, again = m.o.Log.Apply(e); again != nil {
			err = fmt.Errorf("%w (sent again: %w)", err, again)
		} else {
			err = nil
		}
	}
	if errors.Is(err, store.ErrLogUnavailable) && m.writer != "" && (len(b.Results) > 0 || len(b.Commands) > 0) {
		// It may have committed (a leader lost its leadership, an answer
		// was lost): its results go again under the same key, so the
		// cluster counts them once; its commands do not (their caller is
		// told their outcome is unknown, and looks before trying again),
		// and the resend settles whether the first try was made.
		held := *in
		held.Commands = nil
		e.Inputs = &held
		m.unsure = &e
		return nil, fmt.Errorf("%w: %w", errHeld, m.undo(b.Now, err))
	}
	if errors.Is(err, store.ErrOtherModel) {
		// Refused alike everywhere (this member's checks differ from the
		// cluster's): no retry makes them count; health says why.
		m.o.Logger.Warn("results refused: this node's checks differ from the cluster's", slog.Int("results", len(b.Results)))
		return nil, err
	}
	if err != nil {
		return nil, m.undo(b.Now, err)
	}
	ch := res.Changes
	if ch == nil { // a log that did not say (a skipped entry)
		ch = &status.Changes{}
	}
	if !ch.Empty() || m.commitErr.Load() != nil {
		m.commitErr.Store(nil)
		if !m.commitFailedAt.IsZero() {
			m.commitFailedAt, m.lagChanged = time.Time{}, true // the notice goes at once
		}
		m.commits.Add(1)
		m.commitNanos.Store(int64(time.Since(start)))
		if m.o.Metrics != nil {
			m.o.Metrics.ObserveCommit(len(ch.Results), time.Since(start))
		}
	}
	m.applied(b.Now)
	return ch, nil
}

// applied acts on what the steps applied since it last ran asked for,
// whoever wrote their entries: the state changes are logged, the history
// cache dropped when incidents moved, the re-checks scheduled, and a
// snapshot published when the page changed (or freshness is due).
func (m *Monitor) applied(now time.Time) {
	a := m.o.Machine.Take()
	m.logChanges(a.Events)
	if a.History {
		m.hist.invalidate()
	}
	for _, rc := range a.Rechecks {
		if len(rc.Locations) > 0 && !slices.Contains(rc.Locations, m.o.Location) {
			continue // another location's confirmation run
		}
		m.recheck(rc, now)
	}
	// A step that only moved freshness is published at most every
	// publishMin: building a snapshot of thousands of components for each
	// of twenty steps a second would cost more than the steps.
	if a.Visible || m.lagChanged || now.Sub(m.lastPublish) >= publishMin || now.Before(m.lastPublish) {
		m.lagChanged = false
		m.publish(now)
	}
}

// errHeld: the step's results are held in the entry sent again first
// (Monitor.unsure), not in the pending results.
var errHeld = errors.New("results held for a resend under their key")

// errFatal marks a failure the loop cannot recover from: the engine's
// state could not be restored from the store.
var errFatal = errors.New("monitor cannot continue")

// undo keeps health failing until a commit works, after the commit of a
// step failed (the machine has put the engine back to the store's state).
func (m *Monitor) undo(now time.Time, cause error) error {
	if errors.Is(cause, store.ErrDamaged) || errors.Is(cause, machine.ErrNoState) {
		// A damaged page fails every commit that touches it: retrying
		// would keep a node up that can never commit (/healthz 503
		// forever). Stopping says why, and serve exits 1.
		return fmt.Errorf("%w: %w", errFatal, cause)
	}
	if !errors.Is(cause, store.ErrLogUnavailable) {
		// A cluster without a leader is no fault of this node's: it stays
		// alive (its operators' /healthz 200), the page says monitoring
		// is delayed (and, when it lasts, that it is cut off).
		msg := cause.Error()
		m.commitErr.Store(&msg)
	}
	if m.o.Metrics != nil {
		m.o.Metrics.ObserveCommitFailure()
	}
	m.o.Logger.Error("commit failed; the step is undone and its results will be retried", slog.Any("error", cause))
	// The public surfaces must not go on showing the last committed state
	// as fresh: a snapshot of it, drawn from memory, says monitoring is
	// delayed since the first failure.
	if m.commitFailedAt.IsZero() {
		m.commitFailedAt = m.o.Now().UTC()
	}
	m.publish(now)
	return fmt.Errorf("%w: %w", status.ErrNotCommitted, cause)
}

// cmdAnswer is what a command's caller is told: its replies, or why
// there are none (status.ErrNotCommitted, ErrOutcomeUnknown, ErrAnswerLost).
type cmdAnswer struct {
	replies []status.Reply
	err     error
}

// commandError is what a command's caller is told of a step that failed
// (the cause is logged by undo): that its change may have been made when
// the log could not say (a leader lost holding it), else that nothing
// changed.
func commandError(err error) error {
	if errors.Is(err, store.ErrOutcomeUnknown) {
		return status.ErrOutcomeUnknown
	}
	return status.ErrNotCommitted
}
