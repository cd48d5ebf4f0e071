package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// recorder is a Notifier whose behaviour each test scripts.
type recorder struct {
	mu    sync.Mutex
	msgs  []Message
	calls atomic.Int32
	idem  bool
	send  func(n int32, m Message) (string, error)
}

func (r *recorder) Idempotent() bool { return r.idem }

func (r *recorder) Send(ctx context.Context, m Message) (string, error) {
	n := r.calls.Add(1)
	id, err := "", error(nil)
	if r.send != nil {
		id, err = r.send(n, m)
	}
	if err == nil {
		r.mu.Lock()
		r.msgs = append(r.msgs, m)
		r.mu.Unlock()
	}
	return id, err
}

func (r *recorder) posts() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.msgs...)
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), "n.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func channel(name string, n Notifier, operators bool) *Channel {
	tx, _ := NewTexts(nil)
	return &Channel{Name: name, Notifier: n, Operators: operators, Texts: tx, MaxAge: time.Hour, Timeout: time.Second}
}

// start runs a dispatcher until the test ends.
func start(t *testing.T, st *store.Store, chs ...*Channel) *Dispatcher {
	t.Helper()
	d := New(Options{Store: st, Channels: chs, SiteID: "acme", Site: "Acme", SiteURL: "https://status.acme.test",
		Poll: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		Backoff: store.Backoff{Steps: []time.Duration{10 * time.Millisecond}, Repeat: true}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}

func enqueue(t *testing.T, st *store.Store, ev status.Event, dests ...string) uint64 {
	t.Helper()
	var ds []store.Dest
	for _, d := range dests {
		ds = append(ds, store.Dest{Name: d})
	}
	return announce(t, st, ev, ds)
}

// announce adds one announcement through the log, as the monitor does.
func announce(t *testing.T, st *store.Store, ev status.Event, ds []store.Dest) uint64 {
	t.Helper()
	res, err := st.Apply(store.Entry{At: time.Now(), Announce: []store.Announcement{{Event: ev, Dests: ds}}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Seqs[0]
}

// mark changes a delivery through the log, as a dispatcher or a person does.
func mark(t *testing.T, st *store.Store, seq uint64, dest string, m store.Mark, at time.Time) {
	t.Helper()
	m.Seq, m.Dest = seq, dest
	if _, err := st.Apply(store.Entry{At: at, Marks: []store.Mark{m}}); err != nil {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// passes waits until every worker has made n more passes over the outbox
// (woken for each), so "nothing was sent" is asserted after real passes,
// not after a nap.
func passes(t *testing.T, d *Dispatcher, n uint64) {
	t.Helper()
	want := make([]uint64, len(d.workers))
	for i, w := range d.workers {
		want[i] = w.passes.Load() + n
	}
	eventually(t, fmt.Sprintf("%d more passes of every worker", n), func() bool {
		d.Wake()
		for i, w := range d.workers {
			if w.passes.Load() < want[i] {
				return false
			}
		}
		return true
	})
}

func state(t *testing.T, st *store.Store, seq uint64, dest string) store.Delivery {
	t.Helper()
	r, err := st.OutboxRow(seq)
	if err != nil {
		t.Fatal(err)
	}
	return *r.Deliveries[dest]
}

func TestRetriesThenDeliversOnce(t *testing.T) {
	st := openStore(t)
	rec := &recorder{send: func(n int32, m Message) (string, error) {
		if n <= 3 {
			return "", errors.New("HTTP 503")
		}
		return "42", nil
	}}
	seq := enqueue(t, st, testEvent, "masto")
	start(t, st, channel("masto", rec, false))
	eventually(t, "delivery", func() bool { return state(t, st, seq, "masto").State == store.Sent })
	if d := state(t, st, seq, "masto"); d.Attempts != 4 || d.RemoteID != "42" || len(rec.posts()) != 1 {
		t.Fatalf("attempts %d remote %q posts %d", d.Attempts, d.RemoteID, len(rec.posts()))
	}
	if thread, err := st.Thread("inc-3", "masto"); err != nil || thread != "42" {
		t.Error("the first post's id was not kept for threading")
	}
}

func TestMaxAgeRecordsFailure(t *testing.T) {
	st := openStore(t)
	down := &recorder{send: func(int32, Message) (string, error) { return "", errors.New("connection refused") }}
	ops := &recorder{}
	c := channel("masto", down, false)
	// Long enough for a retry (its backoff is tens of milliseconds) on a
	// loaded machine: at 100 ms a busy run gave up after one attempt.
	c.MaxAge = time.Second
	seq := enqueue(t, st, testEvent, "masto")
	d := start(t, st, c, channel("ops", ops, true))
	eventually(t, "the failure", func() bool { return state(t, st, seq, "masto").State == store.Failed })
	if d := state(t, st, seq, "masto"); d.Attempts < 2 || d.LastError == "" {
		t.Errorf("failed delivery: %+v", d)
	}
	eventually(t, "operators told", func() bool {
		for _, m := range ops.posts() {
			if m.Event.Type == status.DeliveryFailed {
				return true
			}
		}
		return false
	})
	calls := down.calls.Load()
	passes(t, d, 3) // an endless loop would keep calling
	if down.calls.Load() != calls {
		t.Error("still retrying after the row failed")
	}
}

func TestSlowChannelDoesNotDelayOthers(t *testing.T) {
	st := openStore(t)
	release := make(chan struct{})
	defer close(release)
	slow := &recorder{send: func(int32, Message) (string, error) { <-release; return "", nil }}
	fast := &recorder{}
	cs := channel("slow", slow, false)
	cs.Timeout = time.Minute
	for i := range 3 {
		ev := testEvent
		ev.ID = fmt.Sprintf("evt-%d", i)
		enqueue(t, st, ev, "slow", "fast")
	}
	start(t, st, cs, channel("fast", fast, false))
	eventually(t, "the fast channel's three posts", func() bool { return len(fast.posts()) == 3 })
}

func TestReconcileAfterCrash(t *testing.T) {
	st := openStore(t)
	seq := enqueue(t, st, testEvent, "masto", "slack")
	for _, d := range []string{"masto", "slack"} { // a previous process died mid-send
		mark(t, st, seq, d, store.Mark{To: store.Sending}, time.Now())
	}
	masto, slack := &recorder{idem: true}, &recorder{}
	start(t, st, channel("masto", masto, false), channel("slack", slack, true))
	eventually(t, "reconciliation", func() bool {
		return state(t, st, seq, "masto").State == store.Sent && state(t, st, seq, "slack").State == store.Ambiguous
	})
	if len(masto.posts()) != 1 || masto.posts()[0].Key != fmt.Sprintf("outpost-acme-%d-masto", seq) {
		t.Errorf("idempotent channel: %d posts", len(masto.posts()))
	}
	if slack.calls.Load() != 0 {
		t.Error("an at-most-once channel was re-sent after a crash")
	}
}

func TestOrderAndThreads(t *testing.T) {
	st := openStore(t)
	rec := &recorder{send: func(n int32, m Message) (string, error) { return fmt.Sprint(100 + n), nil }}
	created := testEvent
	resolved := testEvent
	resolved.ID, resolved.Type = "evt-9", status.IncidentResolved
	resolved.Update = &status.Update{Status: status.Resolved, Body: "Resolved."}
	enqueue(t, st, created, "masto")
	enqueue(t, st, resolved, "masto")
	start(t, st, channel("masto", rec, false))
	eventually(t, "two posts", func() bool { return len(rec.posts()) == 2 })
	p := rec.posts()
	if p[0].Event.Type != status.IncidentCreated || p[1].Event.Type != status.IncidentResolved {
		t.Fatalf("order %s, %s", p[0].Event.Type, p[1].Event.Type)
	}
	if p[0].ReplyTo != "" || p[1].ReplyTo != "101" {
		t.Errorf("threading: %q then %q", p[0].ReplyTo, p[1].ReplyTo)
	}
}

func TestPublishPolicy(t *testing.T) {
	pub, ops := channel("masto", &recorder{}, false), channel("ops", &recorder{}, true)
	for _, tc := range []struct {
		p          Publish
		delay      time.Duration
		hold       bool
		opsDelayed bool
	}{{Publish{Mode: "auto"}, 0, false, false}, {Publish{Mode: "delay", Delay: 5 * time.Minute}, 5 * time.Minute, false, false},
		{Publish{Mode: "manual"}, 0, true, false}} {
		ds := Route([]*Channel{pub, ops}, tc.p)(testEvent)
		if len(ds) != 2 || ds[0].Delay != tc.delay || ds[0].Hold != tc.hold || ds[1].Delay != 0 || ds[1].Hold {
			t.Errorf("%s: %+v", tc.p.Mode, ds)
		}
	}
	for _, typ := range []status.EventType{status.MonitorDelayed, status.CheckWarning, status.CheckWarningCleared} {
		delayed := Route([]*Channel{pub, ops}, Publish{Mode: "auto"})(status.Event{Type: typ})
		if len(delayed) != 1 || delayed[0].Name != "ops" {
			t.Errorf("operators-only event %s routed to %+v", typ, delayed)
		}
	}
	if d := Route([]*Channel{pub}, Publish{Mode: "auto"})(status.Event{Type: status.ComponentStatusChanged, Component: &status.ComponentEvent{ID: "api"}}); len(d) != 0 {
		t.Error("a public channel takes component flickers by default")
	}
	pub.Components = map[string]bool{"db": true}
	if d := Route([]*Channel{pub}, Publish{Mode: "auto"})(testEvent); len(d) != 0 {
		t.Error("a component filter let another component's incident through")
	}
}

func TestHeldUntilReleased(t *testing.T) {
	st := openStore(t)
	rec := &recorder{}
	seq := announce(t, st, testEvent, []store.Dest{{Name: "masto", Hold: true}})
	d := start(t, st, channel("masto", rec, false))
	passes(t, d, 3) // a held row must not go out
	if len(rec.posts()) != 0 {
		t.Fatal("a held announcement was sent")
	}
	if _, err := st.Apply(store.Entry{At: time.Now(), Decide: &store.Decision{Seq: seq, Release: true, Actor: "oncall"}}); err != nil { // a person releases it
		t.Fatal(err)
	}
	d.Wake()
	eventually(t, "the released post", func() bool { return len(rec.posts()) == 1 })
}

// A clean shutdown lets the send in flight finish and record its outcome:
// nothing is left "sending".
func TestShutdownLeavesNothingSending(t *testing.T) {
	st := openStore(t)
	started, proceed := make(chan struct{}), make(chan struct{})
	rec := &recorder{send: func(int32, Message) (string, error) {
		close(started)
		<-proceed // the request is in flight when shutdown starts
		return "7", nil
	}}
	seq := enqueue(t, st, testEvent, "masto")
	d := New(Options{Store: st, Channels: []*Channel{channel("masto", rec, false)}, Poll: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	<-started
	cancel()
	close(proceed) // the answer comes after shutdown began
	<-done
	if s := state(t, st, seq, "masto").State; s != store.Sent {
		t.Fatalf("after a clean shutdown the delivery is %s", s)
	}
}
