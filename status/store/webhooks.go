package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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
	bucketWHOpen     = []byte("wh_open")       // be(seq) → be(next attempt, unix nanos) + subscription id [+ "\x00" + incident id]: deliveries not yet finished
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

// Secret is one signing secret; a rotated-out secret signs until Until.
type Secret struct {
	Value string    `json:"value"`
	Until time.Time `json:"until,omitzero"`
}

// Subscription is one subscriber endpoint.
type Subscription struct {
	ID         string    `json:"id"`
	URL        string    `json:"url"`
	Components []string  `json:"components,omitempty"` // nil: all
	Events     []string  `json:"events,omitempty"`     // nil: all public webhook events
	State      SubState  `json:"state"`
	Secrets    []Secret  `json:"secrets"`    // newest first
	TokenHash  string    `json:"token_hash"` // sha256 of the unsubscribe token, hex
	Client     string    `json:"client"`     // address it was created from, for the per-client cap
	Challenge  string    `json:"challenge,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	VerifiedAt time.Time `json:"verified_at,omitzero"`
	// FailingSince is the first failed attempt since the last success.
	FailingSince time.Time `json:"failing_since,omitzero"`
	StateAt      time.Time `json:"state_at"`
	Reason       string    `json:"reason,omitempty"` // why disabled or expired
}

// Counts reports whether the subscription holds a place under the
// per-client cap (expired ones do not).
func (s *Subscription) Counts() bool { return s.State != SubExpired }

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

// ErrTooManySubscriptions is returned when a client address is at its cap.
var ErrTooManySubscriptions = errors.New("too many subscriptions from this address")

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
	if d.State.Open() {
		// What the delivery loop decides on (when, and for whom) sits in
		// the index, so a scan past deliveries that must wait (a busy host,
		// a later retry) decodes nothing.
		v := append(timeKey(d.NextAt), d.Sub...)
		if d.Incident != "" {
			v = append(append(v, 0), d.Incident...)
		}
		return tx.Bucket(bucketWHOpen).Put(be64(d.Seq), v)
	}
	return tx.Bucket(bucketWHOpen).Delete(be64(d.Seq))
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

// CreateSubscription stores a pending subscription and its challenge
// delivery in one transaction, unless its client address already holds
// perClient subscriptions.
func (s *Store) CreateSubscription(sub Subscription, verify WebhookDelivery, perClient int) error {
	defer s.subsChanged()
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSubs)
		held := 0
		if err := b.ForEach(func(_, v []byte) error {
			var x Subscription
			if err := json.Unmarshal(v, &x); err != nil {
				return err
			}
			if x.Client == sub.Client && x.Counts() {
				held++
			}
			return nil
		}); err != nil {
			return err
		}
		if perClient > 0 && held >= perClient {
			return ErrTooManySubscriptions
		}
		if b.Get([]byte(sub.ID)) != nil {
			return fmt.Errorf("subscription %s exists", sub.ID)
		}
		if err := putJSON(b, []byte(sub.ID), sub); err != nil {
			return err
		}
		verify.Sub = sub.ID
		return putDelivery(tx, &verify)
	})
}

// AddWebhookDelivery queues one more delivery (a ping) for an existing
// subscription.
func (s *Store) AddWebhookDelivery(d WebhookDelivery) error {
	return s.update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSubs).Get([]byte(d.Sub)) == nil {
			return ErrNotFound
		}
		return putDelivery(tx, &d)
	})
}

// Subscription reads one subscription.
func (s *Store) Subscription(id string) (Subscription, error) {
	var sub Subscription
	err := s.view(func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bucketSubs), []byte(id), &sub)
		if err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	return sub, err
}

// Subscriptions lists every subscription, in id order.
func (s *Store) Subscriptions() ([]Subscription, error) {
	out := []Subscription{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSubs).ForEach(func(_, v []byte) error {
			var x Subscription
			if err := json.Unmarshal(v, &x); err != nil {
				return err
			}
			out = append(out, x)
			return nil
		})
	})
	return out, err
}

// UpdateSubscription changes one subscription through fn, in one
// transaction; fn's error aborts it.
func (s *Store) UpdateSubscription(id string, fn func(*Subscription) error) (Subscription, error) {
	defer s.subsChanged()
	var sub Subscription
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSubs)
		ok, err := getJSON(b, []byte(id), &sub)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		if err := fn(&sub); err != nil {
			return err
		}
		return putJSON(b, []byte(id), sub)
	})
	return sub, err
}

// DeleteSubscription removes a subscription and its deliveries, sent or not.
func (s *Store) DeleteSubscription(id string) error {
	defer s.subsChanged()
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSubs)
		if b.Get([]byte(id)) == nil {
			return ErrNotFound
		}
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
		prefix := []byte(id + "\x00")
		idx := tx.Bucket(bucketWHBySub)
		var keys [][]byte
		c := idx.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			seq := k[len(prefix):]
			for _, bk := range [][]byte{bucketWHDelivery, bucketWHOpen} {
				if err := tx.Bucket(bk).Delete(seq); err != nil {
					return err
				}
			}
			if err := idx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// SubscriptionsVersion changes whenever a subscription is created,
// deleted, or changes state or URL, so the delivery loop can keep what
// it needs of them in memory between scans.
func (s *Store) SubscriptionsVersion() uint64 { return s.subsVersion.Load() }

func (s *Store) subsChanged() { s.subsVersion.Add(1) }

// Fanout builds an event's body and picks the subscriptions that take it;
// a nil body means no subscriber gets the event.
type Fanout func(ev status.Event, subs []Subscription) (body []byte, to []string, err error)

// ExpandWebhooks turns up to limit outbox rows waiting on WebhooksDest
// into deliveries, one per subscription fan picks, and marks each row's
// destination sent, all in one transaction. It returns how many rows it
// expanded and how many deliveries it created.
func (s *Store) ExpandWebhooks(limit int, fan Fanout, now time.Time) (rows, created int, err error) {
	// Looked for in a read transaction first: the delivery loop asks on
	// every wake, and an empty write transaction still costs an fsync.
	work := false
	if err := s.view(func(tx *bolt.Tx) error {
		return eachOpenRow(tx, func(r *OutboxRow) bool {
			_, work = webhooksDue(r, now)
			return !work
		})
	}); err != nil || !work {
		return 0, 0, err
	}
	err = s.update(func(tx *bolt.Tx) error {
		created = 0
		out, open := tx.Bucket(bucketOutbox), tx.Bucket(bucketOutboxOpen)
		var subs []Subscription
		loaded := false
		var done [][]byte
		c := open.Cursor()
		n := 0
		for k, _ := c.First(); k != nil && n < limit; k, _ = c.Next() {
			var r OutboxRow
			if err := json.Unmarshal(out.Get(k), &r); err != nil {
				return fmt.Errorf("outbox row %x: %w", k, err)
			}
			d, ok := webhooksDue(&r, now)
			if !ok {
				continue
			}
			n++
			if !loaded {
				if err := tx.Bucket(bucketSubs).ForEach(func(_, v []byte) error {
					var x Subscription
					if err := json.Unmarshal(v, &x); err != nil {
						return err
					}
					if x.State == SubActive || x.State == SubPaused {
						subs = append(subs, x)
					}
					return nil
				}); err != nil {
					return err
				}
				loaded = true
			}
			body, to, err := fan(r.Event, subs)
			if err != nil {
				// One bad event must not hold up the ones behind it.
				d.State, d.LastError, d.UpdatedAt = Failed, "webhook body: "+err.Error(), now
				if err := putJSON(out, k, r); err != nil {
					return err
				}
				if r.Done() {
					done = append(done, bytes.Clone(k))
				}
				continue
			}
			if body != nil && len(to) > 0 {
				if err := putJSON(tx.Bucket(bucketWHEvents), be64(r.Seq), whEvent{CreatedAt: now, Body: body}); err != nil {
					return err
				}
				for _, id := range to {
					wd := &WebhookDelivery{Sub: id, MessageID: r.Event.ID, Type: string(r.Event.Type), EventSeq: r.Seq,
						State: Pending, NextAt: now, CreatedAt: now}
					if r.Event.Incident != nil {
						wd.Incident = r.Event.Incident.ID
					}
					if err := putDelivery(tx, wd); err != nil {
						return err
					}
					created++
				}
			}
			d.State, d.Attempts, d.UpdatedAt = Sent, d.Attempts+1, now
			d.RemoteID = fmt.Sprintf("%d subscriptions", len(to))
			if err := putJSON(out, k, r); err != nil {
				return err
			}
			if r.Done() {
				done = append(done, bytes.Clone(k))
			}
		}
		if err := deleteKeys(open, done); err != nil {
			return err
		}
		rows = n
		return nil
	})
	return rows, created, err
}

// webhooksDue returns a row's webhooks delivery if it waits to be fanned
// out now (not held or delayed by the publish policy).
func webhooksDue(r *OutboxRow, now time.Time) (*Delivery, bool) {
	d, ok := r.Deliveries[WebhooksDest]
	if !ok || d.State != Pending || d.NextAt.After(now) {
		return nil, false
	}
	return d, true
}

// eachOpenRow calls fn with each unfinished outbox row, oldest first, until
// fn returns false.
func eachOpenRow(tx *bolt.Tx, fn func(*OutboxRow) bool) error {
	out := tx.Bucket(bucketOutbox)
	c := tx.Bucket(bucketOutboxOpen).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		var r OutboxRow
		if err := json.Unmarshal(out.Get(k), &r); err != nil {
			return fmt.Errorf("outbox row %d: %w", binary.BigEndian.Uint64(k), err)
		}
		if !fn(&r) {
			return nil
		}
	}
	return nil
}

// WebhookJob is an open delivery with its subscription (nil when the
// subscription is gone) and body.
type WebhookJob struct {
	Delivery WebhookDelivery
	Sub      *Subscription
	Body     []byte
}

// OpenWebhooks returns up to limit open deliveries due at now, oldest
// first, leaving out those skip refuses by sequence and subscription id
// (in flight, paused, or for a busy host) before anything is decoded, and
// the earliest NextAt of the ones not yet due (zero if none).
func (s *Store) OpenWebhooks(now time.Time, limit int, skip func(seq uint64, sub string) bool) ([]WebhookJob, time.Time, error) {
	var jobs []WebhookJob
	var next time.Time
	err := s.view(func(tx *bolt.Tx) error {
		dels, subsB, evs := tx.Bucket(bucketWHDelivery), tx.Bucket(bucketSubs), tx.Bucket(bucketWHEvents)
		subs := subCache{}
		bodies := map[uint64][]byte{}
		// An open delivery about an incident holds back the later ones about
		// it to the same subscriber (in flight, retrying or not yet due), so
		// a receiver gets incident.created before its updates.
		held := map[string]bool{}
		c := tx.Bucket(bucketWHOpen).Cursor()
		for k, v := c.First(); k != nil && len(jobs) < limit; k, v = c.Next() {
			if len(v) < 8 {
				return fmt.Errorf("webhook index entry %x: %d bytes", k, len(v))
			}
			subID, incident, _ := strings.Cut(string(v[8:]), "\x00")
			if incident != "" {
				pair := subID + "\x00" + incident
				if held[pair] {
					continue
				}
				held[pair] = true
			}
			if at := keyTime(v[:8]); at.After(now) {
				if next.IsZero() || at.Before(next) {
					next = at
				}
				continue
			}
			if skip != nil && skip(binary.BigEndian.Uint64(k), subID) {
				continue
			}
			sub, err := subs.get(subsB, subID)
			if err != nil {
				return err
			}
			var d WebhookDelivery
			if ok, err := getJSON(dels, k, &d); err != nil || !ok {
				if err != nil {
					return fmt.Errorf("webhook delivery %x: %w", k, err)
				}
				continue
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
			jobs = append(jobs, j)
		}
		return nil
	})
	return jobs, next, err
}

// UpdateWebhooks applies fn to each delivery and its subscription (nil if
// deleted) in one transaction; a subscription shared by several deliveries
// is the same value across calls, so changes to it accumulate.
func (s *Store) UpdateWebhooks(seqs []uint64, fn func(d *WebhookDelivery, sub *Subscription)) error {
	changed := false
	defer func() {
		if changed {
			s.subsChanged()
		}
	}()
	return s.update(func(tx *bolt.Tx) error {
		dels, subsB := tx.Bucket(bucketWHDelivery), tx.Bucket(bucketSubs)
		subs := subCache{}
		states := map[string]SubState{}
		for _, seq := range seqs {
			var d WebhookDelivery
			ok, err := getJSON(dels, be64(seq), &d)
			if err != nil {
				return err
			}
			if !ok {
				continue // its subscription was deleted meanwhile
			}
			sub, err := subs.get(subsB, d.Sub)
			if err != nil {
				return err
			}
			if _, seen := states[d.Sub]; !seen && sub != nil {
				states[d.Sub] = sub.State
			}
			fn(&d, sub)
			if err := putDelivery(tx, &d); err != nil {
				return err
			}
		}
		for id, sub := range subs {
			if sub != nil {
				changed = changed || sub.State != states[id]
				if err := putJSON(subsB, []byte(id), sub); err != nil {
					return err
				}
			}
		}
		return nil
	})
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

// PruneWebhooks deletes up to limit deliveries and event bodies created
// before cutoff (finished or not: nothing is retried for that long), and
// subscriptions that expired before it. It returns how many it deleted.
func (s *Store) PruneWebhooks(cutoff time.Time, limit int) (int, error) {
	defer s.subsChanged()
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
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
			}{{bucketWHDelivery, be64(d.Seq)}, {bucketWHOpen, be64(d.Seq)}, {bucketWHBySub, subDeliveryKey(d.Sub, d.Seq)}} {
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
		if err := deleteKeys(subs, expired); err != nil {
			return err
		}
		return nil
	})
	return n, err
}

// WebhookStats summarises subscriptions and the delivery backlog.
type WebhookStats struct {
	Subscriptions map[SubState]int `json:"subscriptions"`
	Open          int              `json:"open_deliveries"`
	OldestOpen    time.Time        `json:"oldest_open,omitzero"`
}

// WebhookStats counts subscriptions by state and open deliveries.
func (s *Store) WebhookStats() (WebhookStats, error) {
	st := WebhookStats{Subscriptions: map[SubState]int{}}
	err := s.view(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketSubs).ForEach(func(_, v []byte) error {
			var x struct {
				State SubState `json:"state"`
			}
			if err := json.Unmarshal(v, &x); err != nil {
				return err
			}
			st.Subscriptions[x.State]++
			return nil
		}); err != nil {
			return err
		}
		dels := tx.Bucket(bucketWHDelivery)
		c := tx.Bucket(bucketWHOpen).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if st.Open == 0 { // sequence order: the first is the oldest
				var d WebhookDelivery
				if _, err := getJSON(dels, k, &d); err != nil {
					return err
				}
				st.OldestOpen = d.CreatedAt
			}
			st.Open++
		}
		return nil
	})
	return st, err
}
