package notify

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// Options configures a Dispatcher.
type Options struct {
	Store *store.Store
	// Log is the one way in for durable changes (Store itself on one
	// node, raft in a cluster). Default Store.
	Log      store.Log
	Channels []*Channel
	Logger   *slog.Logger
	SiteID   string
	Site     string // title, for texts
	SiteURL  string
	Now      func() time.Time
	// Poll bounds how long a worker sleeps without a wake-up. Default 1s.
	Poll time.Duration
	// Observe counts a delivery outcome (metrics); may be nil.
	Observe func(dest, result string)
	// Backoff is the channels' retry rule; default ChannelBackoff.
	Backoff store.Backoff
}

// Dispatcher runs one worker per channel over the outbox.
type Dispatcher struct {
	o       Options
	workers []*worker
}

type worker struct {
	// passes counts this worker's passes over the outbox: a test that
	// asserts nothing was sent waits for passes, not for time.
	passes  atomic.Uint64
	d       *Dispatcher
	ch      *Channel
	limiter *rate.Limiter
	wake    Waker
}

// New prepares workers; nothing is sent before Run.
func New(o Options) *Dispatcher {
	if o.Log == nil {
		o.Log = o.Store
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if len(o.Backoff.Steps) == 0 {
		o.Backoff = ChannelBackoff()
	}
	d := &Dispatcher{o: o}
	for _, c := range o.Channels {
		lim := rate.NewLimiter(c.Rate, max(c.Burst, 1))
		if c.Rate == 0 {
			lim = rate.NewLimiter(rate.Inf, 1)
		}
		d.workers = append(d.workers, &worker{d: d, ch: c, limiter: lim, wake: NewWaker()})
	}
	return d
}

// Passes is how many passes over the outbox every channel's worker has
// made at least: it grows while delivery is alive (health shows it), and
// "nothing was sent" can be asserted after passes rather than after time.
func (d *Dispatcher) Passes() uint64 {
	var least uint64
	for i, w := range d.workers {
		if n := w.passes.Load(); i == 0 || n < least {
			least = n
		}
	}
	return least
}

// Wake tells every worker new rows may be waiting.
func (d *Dispatcher) Wake() {
	for _, w := range d.workers {
		w.wake.Wake()
	}
}

// Run delivers until ctx ends, then waits for sends in flight (each is
// bounded by its channel's timeout) to finish and record their outcome, so
// no row is left "sending" by a clean shutdown.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, w := range d.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}
	wg.Wait()
}

func (w *worker) run(ctx context.Context) {
	w.reconcile()
	for {
		wait := w.pass(ctx)
		w.passes.Add(1)
		if !w.wake.Sleep(ctx, wait) {
			return
		}
	}
}

// reconcile settles rows a previous process left "sending": re-sent with
// the same key on idempotent channels, left at most once on the others.
func (w *worker) reconcile() {
	rows, err := w.d.o.Store.Unfinished(1 << 20)
	if err != nil {
		w.d.o.Logger.Error("outbox read failed", "channel", w.ch.Name, "error", err)
		return
	}
	for _, r := range rows {
		d, ok := r.Deliveries[w.ch.Name]
		if !ok || d.State != store.Sending {
			continue
		}
		idem := w.ch.Notifier.Idempotent()
		now := w.d.o.Now()
		m := store.Mark{To: store.Ambiguous, Error: "the process stopped during this send; not re-sent, as this channel has no idempotency key (at most once)"}
		if idem {
			m = store.Mark{To: store.Pending, NextAt: now, Error: d.LastError}
		}
		if _, err := w.mark(r.Seq, m, now); err != nil {
			w.d.o.Logger.Error("outbox update failed", "channel", w.ch.Name, "error", err)
		}
		if !idem {
			w.observe("ambiguous")
		}
	}
}

// pass delivers this channel's due rows in order and says how long to
// sleep. Rows go out strictly in order per channel, so a resolution never
// overtakes its incident; another channel's trouble never delays this one.
func (w *worker) pass(ctx context.Context) time.Duration {
	poll := w.d.o.Poll
	rows, err := w.d.o.Store.Unfinished(500)
	if err != nil {
		w.d.o.Logger.Error("outbox read failed", "channel", w.ch.Name, "error", err)
		return poll
	}
	for _, r := range rows {
		d, ok := r.Deliveries[w.ch.Name]
		if !ok || !d.State.Open() || d.State == store.Sending {
			continue
		}
		if ctx.Err() != nil {
			return 0
		}
		now := w.d.o.Now()
		if w.ch.MaxAge > 0 && now.Sub(r.CreatedAt) > w.ch.MaxAge {
			w.fail(r, fmt.Errorf("undelivered after %s (last error: %s)", w.ch.MaxAge, orNone(d.LastError)))
			continue
		}
		if d.State == store.Held {
			return poll // waits for a person to release or cancel it
		}
		if d.NextAt.After(now) {
			return min(d.NextAt.Sub(now), poll)
		}
		if !w.deliver(ctx, r) {
			return poll
		}
	}
	return poll
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// deliver sends one row; false when it must be retried later.
func (w *worker) deliver(ctx context.Context, r store.OutboxRow) bool {
	if err := w.limiter.Wait(ctx); err != nil {
		return false
	}
	name := w.ch.Name
	msg, err := w.message(r)
	if err != nil {
		w.fail(r, err)
		return true
	}
	// Durably "sending" before the request: after a crash, the row is known
	// to be ambiguous rather than silently re-sent or forgotten.
	claimed, err := w.mark(r.Seq, store.Mark{To: store.Sending}, w.d.o.Now())
	if err != nil {
		w.d.o.Logger.Error("outbox update failed", "channel", name, "error", err)
		return false
	}
	// Not derived from ctx: a send in flight at shutdown finishes (within
	// its timeout) and records its outcome.
	sctx, cancel := context.WithTimeout(context.Background(), w.ch.Timeout)
	remote, err := w.send(sctx, msg, claimed.FirstAttemptAt)
	cancel()
	now := w.d.o.Now()
	if err == nil {
		// The post becomes its incident's thread in the same commit, so
		// once a row reads "sent" the updates behind it reply to its post.
		sent := store.Mark{To: store.Sent, RemoteID: remote}
		if r.Event.Incident != nil {
			sent.Thread = r.Event.Incident.ID
		}
		if _, err := w.mark(r.Seq, sent, now); err != nil {
			// The row stays "sending": after a restart it is reconciled
			// (re-sent with its key where the channel has one).
			w.d.o.Logger.Error("sent, but the outcome was not recorded", "channel", name, "event", r.Event.ID, "error", err)
		}
		w.observe("sent")
		return true
	}
	if Judge(err).Permanent {
		w.fail(r, err)
		return true
	}
	attempts := claimed.Attempts
	retry := store.Mark{To: store.Pending, Error: err.Error(), NextAt: now.Add(retryWait(w.d.o.Backoff, attempts, err))}
	if _, uerr := w.mark(r.Seq, retry, now); uerr != nil {
		w.d.o.Logger.Error("retry not recorded", "channel", name, "event", r.Event.ID, "error", uerr)
	}
	w.d.o.Logger.Warn("delivery failed; will retry", "channel", name, "event", r.Event.ID, "attempt", attempts, "error", err)
	w.observe("retry")
	return false
}

// keyMargin is how long before a service forgets a key the dispatcher
// stops trusting it: clocks differ, and the first request took time.
const keyMargin = 5 * time.Minute

// send sends msg, unless the channel may have forgotten its key and an
// earlier attempt (since first) turns out to have made the post.
func (w *worker) send(ctx context.Context, msg Message, first time.Time) (string, error) {
	if f, ok := w.ch.Notifier.(Finder); ok && w.d.o.Now().Sub(first) > f.KeyWindow()-keyMargin {
		id, err := f.Find(ctx, msg, first)
		if err != nil {
			return "", fmt.Errorf("looking for an earlier post before sending again: %w", err)
		}
		if id != "" {
			w.d.o.Logger.Info("an earlier attempt had posted; not sending again", "channel", w.ch.Name, "event", msg.Event.ID, "remote_id", id)
			return id, nil
		}
	}
	return w.ch.Notifier.Send(ctx, msg)
}

// retryWait is the wait after attempts failed, the last with err: b's
// step with ±20% jitter drawn here (the Mark carries the time it makes),
// or what the server asked. A channel retries until its max_age (Repeat).
func retryWait(b store.Backoff, attempts int, err error) time.Duration {
	wait, _ := b.Next(attempts, Judge(err).RetryAfter, 0.8+0.4*rand.Float64())
	return wait
}

// ChannelBackoff doubles from 2 s to 10 min, then stays at 10 min until
// the channel's max_age gives up.
func ChannelBackoff() store.Backoff {
	b := store.Backoff{Repeat: true}
	for d := 2 * time.Second; d < 10*time.Minute; d *= 2 {
		b.Steps = append(b.Steps, d)
	}
	b.Steps = append(b.Steps, 10*time.Minute)
	return b
}

// fail records a final failure and, in the same commit, tells the other
// operators' channels.
func (w *worker) fail(r store.OutboxRow, cause error) {
	now := w.d.o.Now()
	e := store.Entry{At: now, Marks: []store.Mark{{Seq: r.Seq, Dest: w.ch.Name, To: store.Failed, Error: cause.Error()}}}
	if r.Event.Type != status.DeliveryFailed { // no reports about reports
		ev := status.Event{ID: fmt.Sprintf("dlv-%d-%s", r.Seq, w.ch.Name), Type: status.DeliveryFailed, At: now,
			Text: fmt.Sprintf("Could not deliver %s (%s) to %s: %v", r.Event.Type, r.Event.ID, w.ch.Name, cause)}
		var dests []store.Dest
		for _, c := range w.d.o.Channels {
			if c.Name != w.ch.Name && c.Wants(ev) {
				dests = append(dests, store.Dest{Name: c.Name})
			}
		}
		if len(dests) > 0 {
			e.Announce = []store.Announcement{{Event: ev, Dests: dests}}
		}
	}
	if _, err := w.d.o.Log.Apply(e); err != nil {
		w.d.o.Logger.Error("failure not recorded", "channel", w.ch.Name, "event", r.Event.ID, "error", err)
	}
	w.d.o.Logger.Error("delivery failed for good", "channel", w.ch.Name, "event", r.Event.ID, "type", string(r.Event.Type), "error", cause)
	w.observe("failed")
	if len(e.Announce) > 0 {
		w.d.Wake()
	}
}

// mark records this channel's delivery of row seq through the log and
// returns it as written.
func (w *worker) mark(seq uint64, m store.Mark, at time.Time) (store.Delivery, error) {
	m.Seq, m.Dest = seq, w.ch.Name
	res, err := w.d.o.Log.Apply(store.Entry{At: at, Marks: []store.Mark{m}})
	return res.Delivery, err
}

func (w *worker) observe(result string) {
	if w.d.o.Observe != nil {
		w.d.o.Observe(w.ch.Name, result)
	}
}

// message renders a row for this channel.
func (w *worker) message(r store.OutboxRow) (Message, error) {
	data := Data(w.d.o.Site, w.d.o.SiteURL, r.Event, w.ch.Operators)
	text, err := w.ch.Texts.Render(data, w.ch.Operators)
	if err != nil {
		return Message{}, &PermanentError{Err: err}
	}
	if in, ok := w.ch.Notifier.(Inerter); ok {
		text = in.Inert(text)
	}
	if w.ch.Limit > 0 {
		text = Fit(text, data.URL, w.ch.Limit, w.ch.Count)
	}
	m := Message{Key: fmt.Sprintf("outpost-%s-%d-%s", w.d.o.SiteID, r.Seq, w.ch.Name), Seq: r.Seq, Event: r.Event, Text: text,
		Title: data.Title, URL: data.URL, Operators: w.ch.Operators}
	if r.Event.Incident != nil && r.Event.Type != status.IncidentCreated && r.Event.Type != status.MaintenanceStarted {
		thread, err := w.d.o.Store.Thread(r.Event.Incident.ID, w.ch.Name)
		if err != nil {
			w.d.o.Logger.Error("thread unreadable; posting unthreaded", "channel", w.ch.Name, "event", r.Event.ID, "error", err)
		}
		m.ReplyTo = thread
	}
	return m, nil
}
