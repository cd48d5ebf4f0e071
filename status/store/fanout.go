package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/outpost-status/outpost/status"
	bolt "go.etcd.io/bbolt"
)

// Fan-out: outbox rows waiting on the webhooks destination become one
// delivery per matching subscription, in one transaction.

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
				var err error
				if subs, err = fanTargets(tx); err != nil {
					return err
				}
				loaded = true
			}
			made, err := fanRow(tx, &r, d, subs, fan, now)
			if err != nil {
				return err
			}
			created += made
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

// fanTargets are the subscriptions that take deliveries (paused ones keep
// theirs until resumed).
func fanTargets(tx *bolt.Tx) ([]Subscription, error) {
	var subs []Subscription
	err := tx.Bucket(bucketSubs).ForEach(func(_, v []byte) error {
		var x Subscription
		if err := json.Unmarshal(v, &x); err != nil {
			return err
		}
		if x.State == SubActive || x.State == SubPaused {
			subs = append(subs, x)
		}
		return nil
	})
	return subs, err
}

// fanRow turns one row into deliveries and marks its webhooks destination
// d sent (or failed: one bad event must not hold up the ones behind it).
// The caller writes the row.
func fanRow(tx *bolt.Tx, r *OutboxRow, d *Delivery, subs []Subscription, fan Fanout, now time.Time) (int, error) {
	body, to, err := fan(r.Event, subs)
	if err != nil {
		d.State, d.LastError, d.UpdatedAt = Failed, "webhook body: "+err.Error(), now
		return 0, nil
	}
	created := 0
	if body != nil && len(to) > 0 {
		if err := putJSON(tx.Bucket(bucketWHEvents), be64(r.Seq), whEvent{CreatedAt: now, Body: body}); err != nil {
			return 0, err
		}
		for _, id := range to {
			wd := &WebhookDelivery{Sub: id, MessageID: r.Event.ID, Type: string(r.Event.Type), EventSeq: r.Seq,
				State: Pending, NextAt: now, CreatedAt: now}
			if r.Event.Incident != nil {
				wd.Incident = r.Event.Incident.ID
			}
			if err := putDelivery(tx, wd); err != nil {
				return 0, err
			}
			created++
		}
	}
	d.State, d.Attempts, d.UpdatedAt = Sent, d.Attempts+1, now
	d.RemoteID = fmt.Sprintf("%d subscriptions", len(to))
	return created, nil
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
