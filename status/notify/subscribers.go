package notify

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/outpost-status/outpost/status/store"
)

// Subscribers is the one delivery loop of subscribers, whatever their kind:
// it fans a kind's destination out into one delivery per matching
// subscriber, takes due deliveries (at most PerKey in flight per slot key:
// a webhook's host, an email's recipient domain; Workers batches at once),
// hands them to the kind's Transport outside any transaction, and commits
// the outcomes in batches, the kind's rule applied inside the log. The
// channels' Dispatcher is the other loop: it posts one row at a time, in
// order, to one destination.
type Subscribers struct {
	o     SubscribersOptions
	wake  Waker
	slots *Slots
	rates *keyRates // owned by the loop; nil: no per-key rate
	// scan orders the loop's reads against the recorder's
	// commit-and-release (see dispatch).
	scan sync.Mutex

	// Owned by the loop: subscribers as of subsVersion.
	subs        map[string]subInfo
	keys        map[string]bool // every subscriber's slot key
	subsVersion uint64
}

// Readiness is what a Transport says of a job given its subscriber's state.
type Readiness int

// Readiness values.
const (
	Send   Readiness = iota // send it now
	Wait                    // leave it open (a paused subscriber)
	Cancel                  // record it cancelled (the subscriber no longer takes it)
)

// Transport is one subscriber kind's way out: webhooks over signed HTTP,
// email over SMTP. The loop calls it outside any transaction.
type Transport interface {
	// Kind is the subscribers it serves; their destination is the kind's.
	Kind() store.SubKind
	// Fan decides a due announcement's fan-out: the subscribers (of subs,
	// all of this kind and taking deliveries) that match it and, for
	// webhooks, the body they share; Error when none can be made.
	Fan(r store.OutboxRow, subs []store.Subscription) store.FannedRow
	// Key is a subscriber's slot key (PerKey in flight per key).
	Key(sub store.Subscription) string
	// Ready says whether a job goes now for its subscriber's state.
	Ready(j store.WebhookJob) Readiness
	// Send sends a batch of one key's jobs and returns one outcome per
	// job, in order (Seq set), classified with Judge: Permanent, or a
	// retry with RetryAfter.
	Send(ctx context.Context, jobs []store.WebhookJob) []store.WebhookOutcome
}

// SubscribersOptions configures a Subscribers loop.
type SubscribersOptions struct {
	Store     *store.Store
	Log       store.Log
	Logger    *slog.Logger
	Now       func() time.Time
	Transport Transport
	Workers   int // batches in flight; default 64
	PerKey    int // deliveries in flight per slot key; default 4
	Batch     int // jobs per Send; default 1
	Poll      time.Duration
	// KeyRate is how many deliveries per second one slot key may start
	// (email: the per-recipient-domain throttle); 0: no limit. A key
	// may start up to its burst, ceil(KeyRate), at once.
	KeyRate float64
	// Policy is the delivery rule's configuration, applied in the log.
	Policy store.WebhookPolicy
	// MarkSending commits a durable sending mark for each batch before
	// Send (group-committed), for transports with no idempotency key.
	MarkSending bool
	// Retention: deliveries older than this are pruned (hourly); 0: never.
	Retention time.Duration
	// ForgetUnconfirmed: email subscribers unconfirmed this long are
	// forgotten by the same pruning; 0: never.
	ForgetUnconfirmed time.Duration
	// Observe counts outcomes by destination and label; may be nil.
	Observe func(dest, result string)
}

// NewSubscribers prepares a loop; nothing is sent before Run.
func NewSubscribers(o SubscribersOptions) *Subscribers {
	if o.Log == nil {
		o.Log = o.Store
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Workers <= 0 {
		o.Workers = 64
	}
	if o.PerKey <= 0 {
		o.PerKey = 4
	}
	if o.Batch <= 0 {
		o.Batch = 1
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	return &Subscribers{o: o, wake: NewWaker(), slots: &Slots{PerHost: o.PerKey}, rates: newKeyRates(o.KeyRate, o.Batch)}
}

// Wake tells the loop that new work may be waiting.
func (s *Subscribers) Wake() { s.wake.Wake() }

// Dest is the outbox destination of the loop's kind.
func (s *Subscribers) Dest() string {
	if s.o.Transport.Kind() == store.KindEmail {
		return store.EmailDest
	}
	return store.WebhooksDest
}

// batch is one Send's jobs, all of one slot key.
type batch struct {
	key  string
	jobs []store.WebhookJob
}

// Run delivers until ctx ends. Batches in flight finish (bounded by the
// transport's timeouts) and are recorded, so a clean stop leaves nothing
// to re-send.
func (s *Subscribers) Run(ctx context.Context) {
	work := make(chan batch)
	results := make(chan store.WebhookOutcome, s.o.Workers*s.o.Batch)
	var wg sync.WaitGroup
	for range s.o.Workers {
		wg.Go(func() {
			for b := range work {
				out := s.o.Transport.Send(context.WithoutCancel(ctx), b.jobs)
				for range b.jobs {
					s.slots.FreeHost(b.key)
				}
				s.Wake()
				for _, o := range out {
					results <- o
				}
			}
		})
	}
	recorded := make(chan struct{})
	go func() { s.record(results); close(recorded) }()
	var pruned time.Time
	for {
		if now := s.o.Now(); now.Sub(pruned) > time.Hour {
			s.prune(now)
			pruned = now
		}
		more := s.expand()
		wait := s.dispatch(ctx, work)
		if more {
			wait = 0
		}
		if !s.wake.Sleep(ctx, wait) {
			break
		}
	}
	close(work)
	wg.Wait()
	close(results)
	<-recorded
}

func (s *Subscribers) prune(now time.Time) {
	if s.o.Retention <= 0 {
		return
	}
	p := store.PruneWebhooks{Cutoff: now.Add(-s.o.Retention), Limit: 5000}
	if s.o.ForgetUnconfirmed > 0 {
		p.Unconfirmed = now.Add(-s.o.ForgetUnconfirmed)
	}
	res, err := s.o.Log.Apply(store.Entry{At: now, PruneWebhooks: &p})
	if err != nil {
		s.o.Logger.Error("subscriber pruning failed", "kind", string(s.o.Transport.Kind()), "error", err)
	} else if res.Deleted > 0 {
		s.o.Logger.Info("pruned old subscriber deliveries", "kind", string(s.o.Transport.Kind()), "deliveries", res.Deleted)
	}
}

const expandBatch = 200

// expand turns committed announcements into per-subscriber deliveries;
// true when more may be waiting. The fan-out is decided from a read,
// outside the write; the entry re-checks that each row still waits and
// each subscriber still takes it.
func (s *Subscribers) expand() bool {
	now := s.o.Now()
	due, subs, err := s.o.Store.DueForFanout(s.Dest(), expandBatch, now)
	if err == nil && len(due) > 0 {
		list := make([]store.FannedRow, 0, len(due))
		for _, r := range due {
			f := s.o.Transport.Fan(r, subs)
			f.Seq, f.Dest = r.Seq, s.Dest()
			list = append(list, f)
		}
		var res store.Result
		res, err = s.o.Log.Apply(store.Entry{At: now, Fanout: list})
		if err == nil && res.Created > 0 {
			s.o.Logger.Debug("subscriber deliveries queued", "kind", string(s.o.Transport.Kind()), "deliveries", res.Created)
		}
	}
	if err != nil {
		s.o.Logger.Error("subscriber fan-out failed; will retry", "kind", string(s.o.Transport.Kind()), "error", err)
		return false
	}
	return len(due) == expandBatch
}
