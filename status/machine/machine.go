// Package machine is Outpost's state machine: it owns the engine and
// applies the log's entries to it and to the store together. An entry
// carries inputs (probe results, commands) stamped with its writer's time;
// applying it runs the deterministic engine over them inside the apply and
// commits the step it makes (state, incidents, ids, roll-ups, outbox rows
// with their payloads) in the entry's one transaction. So every applier of
// the same entries reaches the same state, whoever wrote them: the local
// monitor on one node, any node through a replicated log in a cluster.
//
// After each applied step the machine signals Applied; whoever publishes
// (the monitor) takes what the steps asked for (re-checks, a visible
// change) and publishes a snapshot, so the page moves on every applier,
// not only where the probe ran.
package machine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/statuspage"
	"github.com/outpost-status/outpost/status/store"
)

// Options configures a Machine.
type Options struct {
	Store *store.Store
	Model *status.Model
	// Route names an event's destinations for the outbox.
	Route store.Router
	// Site is what payloads say about the page.
	Site   statuspage.Site
	Logger *slog.Logger
}

// Machine applies entries to the engine and the store. It is the single
// node's Log, and what a replicated log's applier calls.
type Machine struct {
	st  *store.Store
	log *slog.Logger

	// mu is held while an entry applies and while a reader looks at the
	// engine (Read): the engine and the store change together.
	mu     sync.Mutex
	engine *status.Engine
	route  store.Router
	site   statuspage.Site
	// failing: the last commit of a step failed, so the next step commits
	// even if it changed nothing (health learns when writes work again).
	failing bool
	// own is the fingerprint of the engine's model (status.Fingerprint);
	// modelSet is closed and replaced when it changes (a reload), waking
	// an applier that waits for its model to match the cluster's.
	own      string
	modelSet chan struct{}
	closed   chan struct{}
	stalled  atomic.Pointer[string]

	applied chan struct{}
	outMu   sync.Mutex
	out     Applied
}

// Applied is what the steps applied since the last Take asked for.
type Applied struct {
	Steps    int
	At       time.Time        // the last step's time
	Visible  bool             // a step changed what the page shows beyond freshness
	History  bool             // incidents or events changed: the history cache is stale
	Events   []status.Event   // in order, for the log
	Rechecks []status.Recheck // confirmation runs the steps asked for
}

// ErrNoState: a step failed to commit and the engine's state could not be
// read back from the store, so the machine cannot go on.
var ErrNoState = errors.New("the engine's state cannot be read back from the store")

// New loads the engine from the store. The store must not owe a restore's
// floor (node applies the restore's first entry before): a step computed
// below the floor would repeat ids.
func New(o Options) (*Machine, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if r, ok := o.Store.Restored(); ok && r.Floor == 0 {
		return nil, errors.New("machine: the restored file's first entry must be applied before the engine loads")
	}
	m := &Machine{st: o.Store, log: o.Logger, route: o.Route, site: o.Site, applied: make(chan struct{}, 1),
		modelSet: make(chan struct{}), closed: make(chan struct{})}
	st, err := m.load(o.Model)
	if err != nil {
		return nil, err
	}
	m.engine = status.NewEngine(o.Model, st)
	m.own = status.Fingerprint(m.engine.Model()) // with the engine's defaults, as SetModel takes it
	return m, nil
}

// load reads the state the engine starts from: as of the last step the
// file holds (its time is the entry's, never this node's clock, so every
// applier keeps the same closed incidents).
func (m *Machine) load(model *status.Model) (*status.State, error) {
	return m.st.LoadState(m.st.LastCommit(), model.ReopenWindow)
}

// Apply commits e: an entry with inputs runs the engine over them and
// commits the step with the rest of the entry; any other entry goes to the
// store as it is. A step that fails to commit is undone in memory too.
func (m *Machine) Apply(e store.Entry) (store.Result, error) {
	if e.Inputs == nil {
		return m.st.Apply(e)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	res, ch, err := m.step(m.st, e)
	if ch == nil {
		return res, err
	}
	if err != nil {
		return res, m.undo(err)
	}
	m.failing = false
	m.note(ch, e.At)
	return res, nil
}

// writer is where a step is written: the store (its own transaction), or
// a batch's transaction (batch.go).
type writer interface {
	Position(writer string) (store.Position, error)
	Apply(store.Entry) (store.Result, error)
}

// step runs e's inputs through the engine and writes the entry with the
// step it made to w (mu held). ch is the engine's step, nil when the
// engine did not step (the entry was skipped or refused before it); with
// an error and a step, the engine must be undone.
func (m *Machine) step(w writer, e store.Entry) (res store.Result, ch *status.Changes, err error) {
	pos, err := w.Position(e.Inputs.Writer)
	if err != nil {
		return store.Result{}, nil, err
	}
	switch in := e.Inputs; {
	case e.Index > 0 && e.Index <= pos.Applied:
		// The file holds it (a replayed log): applying it again would
		// step the engine twice.
		return store.Result{Skipped: true}, nil, nil
	case in.OtherModel(pos.Model):
		res, err = w.Apply(e) // the store refuses it alike everywhere, and records it
		return res, nil, err
	case in.Writer != "" && in.Seq <= pos.WriterSeq:
		// Sent again by a writer that could not learn whether it
		// committed: the file holds it, and the engine must not count it
		// twice. Alike everywhere: the writers' seqs are replicated.
		res, err = w.Apply(store.Entry{At: e.At, Index: e.Index}) // the log moves on; nothing else
		res.Skipped = true
		return res, nil, err
	}
	ch = m.engine.Apply(e.Inputs.AsBatch(e.At))
	m.payloads(ch, e.At)
	if ch.Empty() && !m.failing && e.Index == 0 && len(e.Parts()) == 0 {
		// Nothing durable changed and no log position to record: the
		// single node skips the fsync. The engine is where a replay of
		// the same entry would leave it.
		return store.Result{Changes: ch}, ch, nil
	}
	e.Step = store.NewStep(ch, m.engine.State(), m.route)
	if res, err = w.Apply(e); err != nil {
		return res, ch, err
	}
	res.Changes = ch
	return res, ch, nil
}

// ApplyEncoded applies the entry at a replicated log's index and term
// (raft's FSM calls it): decoded by the store's codec, applied as Apply
// does (a claim made under another term than the entry's is refused; 0:
// the term is not known), and halting the store on anything but success
// or a refusal (store.HaltOn).
func (m *Machine) ApplyEncoded(data []byte, index, term uint64) (store.Result, error) {
	e, err := m.st.DecodeAt(data, index)
	if err != nil {
		return store.Result{}, err
	}
	e.Term = term
	if e.Inputs != nil {
		if err := m.awaitModel(); err != nil {
			// Not applied: this member must stop here, not move past it
			// as raft does past whatever the FSM returns.
			return store.Result{}, m.st.HaltOn(index, err)
		}
	}
	res, err := m.Apply(e)
	return res, m.st.HaltOn(index, err)
}

// undo puts the engine back to the store's last committed state after a
// step failed to commit: a step is all or nothing, in memory as on disk.
func (m *Machine) undo(cause error) error {
	m.failing = true
	st, err := m.load(m.engine.Model())
	if err != nil {
		return fmt.Errorf("%w: commit failed (%w) and then: %w", ErrNoState, cause, err)
	}
	m.engine.Restore(st)
	return cause
}

// Snapshot writes a consistent copy of the replicated state (a raft FSM
// snapshot's bytes) to w.
func (m *Machine) Snapshot(w io.Writer) (store.SnapshotInfo, error) { return m.st.Snapshot(w) }

// Restore installs a snapshot taken by Snapshot (on this node or another)
// and loads the engine from it; the next Take asks for a publish, so the
// page shows the installed state.
func (m *Machine) Restore(r io.Reader) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.st.Restore(r); err != nil {
		return err
	}
	return m.reload()
}

// reload reads the engine's state from the store again (mu held).
func (m *Machine) reload() error {
	st, err := m.load(m.engine.Model())
	if err != nil {
		return err
	}
	m.engine.Restore(st)
	m.outMu.Lock()
	m.out.Visible, m.out.History = true, true
	m.outMu.Unlock()
	m.signal()
	return nil
}

// SetModel swaps the model (a config reload) and what payloads say about
// the page, keeping the state of what remains.
func (m *Machine) SetModel(model *status.Model, site statuspage.Site) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.engine.SetModel(model)
	m.site = site
	m.own = status.Fingerprint(m.engine.Model())
	close(m.modelSet)
	m.modelSet = make(chan struct{})
}

// Fingerprint is the fingerprint of the model in force here.
func (m *Machine) Fingerprint() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.own
}

// Model returns the model in force.
func (m *Machine) Model() *status.Model {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.engine.Model()
}

// Read runs fn with the engine while no entry applies: what fn reads of
// the engine agrees with the store. fn must not apply entries.
func (m *Machine) Read(fn func(*status.Engine)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fn(m.engine)
}

// Applied signals that steps were applied since the last Take. Signals
// coalesce: one receive may stand for several steps.
func (m *Machine) Applied() <-chan struct{} { return m.applied }

// Take returns what the steps applied since the last Take asked for, and
// forgets it.
func (m *Machine) Take() Applied {
	m.outMu.Lock()
	defer m.outMu.Unlock()
	a := m.out
	m.out = Applied{}
	return a
}

// note adds a step's asks to what the next Take returns, and signals.
func (m *Machine) note(ch *status.Changes, at time.Time) {
	m.outMu.Lock()
	o := &m.out
	o.Steps++
	o.At = at
	o.Visible = o.Visible || ch.Visible
	o.History = o.History || len(ch.Events) > 0 || len(ch.Incidents) > 0
	o.Events = append(o.Events, ch.Events...)
	o.Rechecks = append(o.Rechecks, ch.Rechecks...)
	m.outMu.Unlock()
	m.signal()
}

func (m *Machine) signal() {
	select { // a wake, unless one is already waiting
	case m.applied <- struct{}{}:
	default:
	}
}

// payloads gives each public event the data object of its payload, built
// from the page as this step leaves it, before the step commits it with
// the event: a delivery made later (publish.mode delay, retries, a
// restart) still describes this step, and nothing needs a rendered page.
// The page is drawn from replicated state only (since when the state has
// watched stands in for this node's start), so every applier builds the
// same bytes.
func (m *Machine) payloads(ch *status.Changes, now time.Time) {
	var view *statuspage.View
	for i := range ch.Events {
		ev := &ch.Events[i]
		if ev.Type.OperatorsOnly() || (ev.Incident == nil && ev.Component == nil) {
			continue
		}
		if view == nil {
			view = statuspage.New(m.site, m.engine.Snapshot(now, m.engine.State().WatchingSince))
		}
		data, err := view.WebhookData(*ev)
		if err == nil {
			ev.Data, err = json.Marshal(data)
		}
		if err != nil {
			m.log.Error("event payload not built; deliveries will build it from the event alone",
				slog.String("event", ev.ID), slog.Any("error", err))
		}
	}
}
