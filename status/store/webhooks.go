package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/status"
)

// Webhook subscriptions and their deliveries. An event reaches subscribers
// in two durable steps: the engine's transaction gives its outbox row one
// destination for all webhooks (WebhooksDest); then ExpandWebhooks turns
// that into one delivery per matching subscription and marks the
// destination done, in one transaction, so no event is expanded twice or
// lost in between.
var (
	bucketSubs       = []byte("subscriptions") // id → Subscription JSON
	bucketWHEvents   = []byte("wh_events")     // be(outbox seq) → whEvent JSON (the body, shared by every subscriber)
	bucketWHDelivery = []byte("wh_deliveries") // be(seq) → WebhookDelivery JSON
	bucketWHBySub    = []byte("wh_by_sub")     // sub id + 0 + be(seq) → nil: each subscription's log
)

// WebhooksDest is the outbox destination standing for every subscription;
// it cannot collide with a channel name, which may not start with "@".
const WebhooksDest = "@webhooks"

// SubState is a subscription's lifecycle state.
type SubState string

// Subscription states. Only active subscriptions get events.
const (
	SubPending  SubState = "pending"  // waiting for the challenge echo
	SubActive   SubState = "active"   // verified, receiving events
	SubPaused   SubState = "paused"   // by an admin; deliveries wait
	SubDisabled SubState = "disabled" // failing for too long; its owner or an admin can re-enable it
	SubExpired  SubState = "expired"  // never verified
)

func (s SubState) known() bool {
	switch s {
	case SubPending, SubActive, SubPaused, SubDisabled, SubExpired:
		return true
	}
	return false
}

// Attempt is one delivery attempt.
type Attempt struct {
	At        time.Time `json:"at"`
	Status    int       `json:"status,omitempty"` // HTTP status; 0 when none came back
	LatencyMS float64   `json:"latency_ms"`
	Error     string    `json:"error,omitempty"`
}

// WebhookDelivery is one event (or challenge) for one subscription.
type WebhookDelivery struct {
	Seq       uint64 `json:"seq"`
	Sub       string `json:"subscription"`
	MessageID string `json:"message_id"` // webhook-id: the event id, the same on every retry
	Type      string `json:"type"`
	EventSeq  uint64 `json:"event_seq,omitempty"` // body in wh_events; 0: Body inline
	// Incident is the incident the event concerns: deliveries about one
	// incident to one subscriber go out in order, one after the other.
	Incident  string        `json:"incident,omitempty"`
	Body      []byte        `json:"body,omitempty"`
	State     DeliveryState `json:"state"`
	NextAt    time.Time     `json:"next_at,omitzero"`
	CreatedAt time.Time     `json:"created_at"`
	Attempts  []Attempt     `json:"attempts"`

	// Kind is the subscriber's kind, which names the open index the
	// delivery is in; "" (a challenge, a ping, a row from before kinds)
	// is a webhook's.
	Kind SubKind `json:"kind,omitempty"`
}

// maxAttemptsKept bounds a delivery's attempt log (the schedule has 8).
const maxAttemptsKept = 16

// Record appends an attempt, keeping the log bounded.
func (d *WebhookDelivery) Record(a Attempt) {
	d.Attempts = append(d.Attempts, a)
	if len(d.Attempts) > maxAttemptsKept {
		d.Attempts = d.Attempts[len(d.Attempts)-maxAttemptsKept:]
	}
}

type whEvent struct {
	CreatedAt time.Time       `json:"created_at"`
	Body      json.RawMessage `json:"body"`
}

func subDeliveryKey(sub string, seq uint64) []byte { return append([]byte(sub+"\x00"), be64(seq)...) }

func putDelivery(tx *bolt.Tx, d *WebhookDelivery) error {
	b := tx.Bucket(bucketWHDelivery)
	if d.Seq == 0 {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		d.Seq = seq
		if err := tx.Bucket(bucketWHBySub).Put(subDeliveryKey(d.Sub, seq), nil); err != nil {
			return err
		}
	}
	if err := putJSON(b, be64(d.Seq), d); err != nil {
		return err
	}
	return indexOpen(tx, d)
}

// subCache reads each subscription once per transaction, so changes made
// through one delivery are seen by the next of the same subscription; nil
// records one that is gone.
type subCache map[string]*Subscription

func (c subCache) get(b *bolt.Bucket, id string) (*Subscription, error) {
	if sub, seen := c[id]; seen {
		return sub, nil
	}
	var x Subscription
	ok, err := getJSON(b, []byte(id), &x)
	if err != nil {
		return nil, err
	}
	var sub *Subscription
	if ok {
		sub = &x
	}
	c[id] = sub
	return sub, nil
}

// deleteKeys deletes keys collected during a cursor walk (deleting while
// walking skips keys in bbolt).
func deleteKeys(b *bolt.Bucket, keys [][]byte) error {
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func getJSON(b *bolt.Bucket, k []byte, v any) (bool, error) {
	raw := b.Get(k)
	if raw == nil {
		return false, nil
	}
	return true, json.Unmarshal(raw, v)
}

// applyPing queues one more delivery (a ping) for an existing
// subscription.
func applyPing(tx *bolt.Tx, d WebhookDelivery) error {
	var sub Subscription
	ok, err := getJSON(tx.Bucket(bucketSubs), []byte(d.Sub), &sub)
	if err != nil {
		return fmt.Errorf("subscription %s: %w", d.Sub, err)
	}
	if !ok {
		return refuse(ErrNotFound)
	}
	d.Kind = sub.Kind // its open index
	return putDelivery(tx, &d)
}

// WebhookJob is an open delivery with its subscription (nil when the
// subscription is gone) and body; a delivery with no stored body (email:
// each mail is composed at send time) has the event instead.
type WebhookJob struct {
	Delivery WebhookDelivery
	Sub      *Subscription
	Body     []byte
	Event    *status.Event
}

// DeliveryJobs reads the listed deliveries with their subscriptions (nil
// when gone) and bodies, in the order given; one no longer open (finished
// or deleted since it was listed) is left out.
func (s *Store) DeliveryJobs(seqs []uint64) ([]WebhookJob, error) {
	jobs := make([]WebhookJob, 0, len(seqs))
	err := s.view(func(tx *bolt.Tx) error {
		dels, subsB, evs := tx.Bucket(bucketWHDelivery), tx.Bucket(bucketSubs), tx.Bucket(bucketWHEvents)
		subs := subCache{}
		bodies := map[uint64][]byte{}
		events := map[uint64]*status.Event{}
		for _, seq := range seqs {
			var d WebhookDelivery
			if ok, err := getJSON(dels, be64(seq), &d); err != nil || !ok || !d.State.Open() {
				if err != nil {
					return fmt.Errorf("webhook delivery %d: %w", seq, err)
				}
				continue
			}
			sub, err := subs.get(subsB, d.Sub)
			if err != nil {
				return err
			}
			j := WebhookJob{Delivery: d, Sub: sub, Body: d.Body}
			if d.EventSeq != 0 {
				body, ok := bodies[d.EventSeq]
				if !ok {
					var e whEvent
					if _, err := getJSON(evs, be64(d.EventSeq), &e); err != nil {
						return err
					}
					body = e.Body
					bodies[d.EventSeq] = body
				}
				j.Body = body
			}
			if d.EventSeq != 0 && j.Body == nil {
				ev, err := jobEvent(tx, events, d.EventSeq)
				if err != nil {
					return err
				}
				j.Event = ev
			}
			jobs = append(jobs, j)
		}
		return nil
	})
	return jobs, err
}

// jobEvent reads the event of outbox row seq once per read; nil when the
// row was pruned.
func jobEvent(tx *bolt.Tx, cache map[uint64]*status.Event, seq uint64) (*status.Event, error) {
	if ev, ok := cache[seq]; ok {
		return ev, nil
	}
	r, err := getRow(tx, seq)
	if errors.Is(err, ErrNotFound) {
		cache[seq] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cache[seq] = &r.Event
	return &r.Event, nil
}

// WebhookLog returns a subscription's newest deliveries, newest first.
func (s *Store) WebhookLog(sub string, limit int) ([]WebhookDelivery, error) {
	out := []WebhookDelivery{}
	err := s.view(func(tx *bolt.Tx) error {
		prefix := []byte(sub + "\x00")
		dels := tx.Bucket(bucketWHDelivery)
		c := tx.Bucket(bucketWHBySub).Cursor()
		k, _ := c.Seek(append(bytes.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Prev() {
			var d WebhookDelivery
			if _, err := getJSON(dels, k[len(prefix):], &d); err != nil {
				return err
			}
			d.Body = nil // the log shows outcomes, not the challenge
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// PruneWebhooks deletes up to Limit deliveries (of either kind) and event
// bodies created before Cutoff (finished or not: nothing is retried for
// that long), and subscriptions that expired before it; with Unconfirmed,
// email subscribers still unconfirmed that were created before it (and
// with them, the confirmation counts past their window at the entry's
// time). The result counts deliveries.
type PruneWebhooks struct {
	Cutoff      time.Time `json:"cutoff"`
	Limit       int       `json:"limit"`
	Unconfirmed time.Time `json:"unconfirmed,omitzero"`
}

func applyPruneWebhooks(tx *bolt.Tx, p PruneWebhooks, now time.Time, res *Result) error {
	n, err := pruneWebhooks(tx, p.Cutoff, p.Limit)
	res.Deleted = n
	if err != nil || p.Unconfirmed.IsZero() {
		return err
	}
	if err := forgetUnconfirmed(tx, p.Unconfirmed); err != nil {
		return err
	}
	return pruneMailboxes(tx, now)
}

func pruneWebhooks(tx *bolt.Tx, cutoff time.Time, limit int) (int, error) {
	n := 0
	err := func() error {
		dels := tx.Bucket(bucketWHDelivery)
		var old []WebhookDelivery
		c := dels.Cursor()
		for k, v := c.First(); k != nil && len(old) < limit; k, v = c.Next() {
			var d WebhookDelivery
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			if !d.CreatedAt.Before(cutoff) {
				break // sequence order is creation order
			}
			old = append(old, d)
		}
		for _, d := range old {
			for _, del := range []struct {
				b []byte
				k []byte
			}{{bucketWHDelivery, be64(d.Seq)}, {openBucket(d.Kind), be64(d.Seq)}, {bucketWHBySub, subDeliveryKey(d.Sub, d.Seq)}} {
				if err := tx.Bucket(del.b).Delete(del.k); err != nil {
					return err
				}
			}
			n++
		}
		evs := tx.Bucket(bucketWHEvents)
		var oldEvents [][]byte
		ec := evs.Cursor()
		for k, v := ec.First(); k != nil && len(oldEvents) < limit; k, v = ec.Next() {
			var e whEvent
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			if !e.CreatedAt.Before(cutoff) {
				break
			}
			oldEvents = append(oldEvents, bytes.Clone(k))
		}
		if err := deleteKeys(evs, oldEvents); err != nil {
			return err
		}
		subs := tx.Bucket(bucketSubs)
		var expired [][]byte
		if err := subs.ForEach(func(k, v []byte) error {
			var x Subscription
			if err := json.Unmarshal(v, &x); err != nil {
				return err
			}
			if x.State == SubExpired && x.StateAt.Before(cutoff) {
				expired = append(expired, bytes.Clone(k))
			}
			return nil
		}); err != nil {
			return err
		}
		return deleteKeys(subs, expired)
	}()
	return n, err
}

// WebhookStats summarises one kind's subscribers and delivery backlog.
type WebhookStats struct {
	Subscriptions map[SubState]int `json:"subscriptions"`
	Open          int              `json:"open_deliveries"`
	OldestOpen    time.Time        `json:"oldest_open,omitzero"`
}

// WebhookStats counts webhook subscriptions by state and their open
// deliveries.
func (s *Store) WebhookStats() (WebhookStats, error) { return s.SubscriberStats(KindWebhook) }

// SubscriberStats counts kind's subscribers by state and their open
// deliveries.
func (s *Store) SubscriberStats(kind SubKind) (WebhookStats, error) {
	st := WebhookStats{Subscriptions: map[SubState]int{}}
	err := s.view(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketSubs).ForEach(func(k, v []byte) error {
			// Only the kind and the state: a count needs no secrets,
			// choices or delivery history decoded (this runs on every
			// health request and metrics scrape).
			var x struct {
				Kind  SubKind  `json:"kind"`
				State SubState `json:"state"`
			}
			if err := json.Unmarshal(v, &x); err != nil {
				return fmt.Errorf("subscription %s: %w", k, err)
			}
			if storedKind(x.Kind) == kind {
				st.Subscriptions[x.State]++
			}
			return nil
		}); err != nil {
			return err
		}
		return openStats(tx, kind, &st)
	})
	return st, err
}
