package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Fan-out: outbox rows waiting on a subscriber kind's destination
// (WebhooksDest, EmailDest) become one delivery per matching subscriber
// of that kind, in one transaction.

// DueForFanout returns up to limit outbox rows whose dest (WebhooksDest
// or EmailDest) is due at now, oldest first, and the subscribers of that
// kind that take deliveries (paused ones keep theirs until resumed); no
// rows, no subscribers.
func (s *Store) DueForFanout(dest string, limit int, now time.Time) ([]OutboxRow, []Subscription, error) {
	kind, ok := DestKind(dest)
	if !ok {
		return nil, nil, fmt.Errorf("%q is not a subscribers' destination", dest)
	}
	var rows []OutboxRow
	var subs []Subscription
	err := s.view(func(tx *bolt.Tx) error {
		if err := eachOpenRow(tx, func(r *OutboxRow) bool {
			if _, ok := fanoutDue(r, dest, now); ok {
				rows = append(rows, *r)
			}
			return len(rows) < limit
		}); err != nil || len(rows) == 0 {
			return err
		}
		var err error
		subs, err = fanTargets(tx, kind)
		return err
	})
	return rows, subs, err
}

// FannedRow is one announcement's fan-out to one kind's destination
// (Dest; empty: WebhooksDest, as entries before kinds): the subscribers
// that take it and, for webhooks, the body every one gets (or the reason
// no body could be made). An email is composed at send time from the
// event stored in the outbox row.
type FannedRow struct {
	Seq   uint64          `json:"seq"`
	Dest  string          `json:"dest,omitempty"`
	Body  json.RawMessage `json:"body,omitempty"`
	Subs  []string        `json:"subs,omitempty"`
	Error string          `json:"error,omitempty"`
}

// applyFanout turns each row still waiting on its destination into
// deliveries, one per listed subscriber that still takes them, and marks
// the destination sent (or failed: one bad event must not hold up the
// ones behind it). A row fanned out already is left as it is.
func applyFanout(tx *bolt.Tx, list []FannedRow, now time.Time, res *Result) error {
	subs := tx.Bucket(bucketSubs)
	for _, f := range list {
		if f.Dest == "" {
			f.Dest = WebhooksDest
		}
		if _, ok := DestKind(f.Dest); !ok {
			return fmt.Errorf("fan-out to %q: not a subscribers' destination", f.Dest)
		}
		r, err := getRow(tx, f.Seq)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		d, ok := fanoutDue(&r, f.Dest, now)
		if !ok {
			continue
		}
		res.Rows++
		if f.Error != "" {
			kind, _ := DestKind(f.Dest)
			d.State, d.LastError, d.UpdatedAt = Failed, string(kind)+" body: "+f.Error, now
		} else {
			made, err := fanRow(tx, subs, &r, f, now)
			if err != nil {
				return err
			}
			res.Created += made
			d.State, d.Attempts, d.UpdatedAt = Sent, d.Attempts+1, now
			d.RemoteID = fmt.Sprintf("%d subscriptions", made)
		}
		if err := putRow(tx, r); err != nil {
			return err
		}
	}
	return nil
}

// fanTargets are kind's subscribers that take deliveries (paused ones
// keep theirs until resumed).
func fanTargets(tx *bolt.Tx, kind SubKind) ([]Subscription, error) {
	var subs []Subscription
	err := tx.Bucket(bucketSubs).ForEach(func(_, v []byte) error {
		var x Subscription
		if err := json.Unmarshal(v, &x); err != nil {
			return err
		}
		if x.Kind == kind && x.takes() {
			subs = append(subs, x)
		}
		return nil
	})
	return subs, err
}

func (s *Subscription) takes() bool { return s.State == SubActive || s.State == SubPaused }

// fanRow stores a webhook row's body once and a delivery for each listed
// subscriber that still takes it (for email: still wants it, by the
// rule); it returns how many.
func fanRow(tx *bolt.Tx, subs *bolt.Bucket, r *OutboxRow, f FannedRow, now time.Time) (int, error) {
	kind, _ := DestKind(f.Dest)
	if (kind == KindWebhook && len(f.Body) == 0) || len(f.Subs) == 0 {
		return 0, nil
	}
	created := 0
	for _, id := range f.Subs {
		var sub Subscription
		ok, err := getJSON(subs, []byte(id), &sub)
		if err != nil {
			return 0, fmt.Errorf("subscription %s: %w", id, err)
		}
		if kind == KindEmail {
			ok = ok && sub.EmailWants(r.Event) // its kind, its state and its choice
		} else {
			ok = ok && sub.Kind == kind && sub.takes()
		}
		if !ok {
			continue // deleted or stopped since the fan-out was decided
		}
		wd := &WebhookDelivery{Sub: id, MessageID: r.Event.ID, Type: string(r.Event.Type), EventSeq: r.Seq,
			State: Pending, NextAt: now, CreatedAt: now, Kind: kind}
		if r.Event.Incident != nil {
			wd.Incident = r.Event.Incident.ID
		}
		if err := putDelivery(tx, wd); err != nil {
			return 0, err
		}
		created++
	}
	if created == 0 || kind == KindEmail {
		return created, nil
	}
	return created, putJSON(tx.Bucket(bucketWHEvents), be64(r.Seq), whEvent{CreatedAt: now, Body: f.Body})
}

// fanoutDue returns a row's delivery to dest if it waits to be fanned out
// now (not held or delayed by the publish policy).
func fanoutDue(r *OutboxRow, dest string, now time.Time) (*Delivery, bool) {
	d, ok := r.Deliveries[dest]
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
