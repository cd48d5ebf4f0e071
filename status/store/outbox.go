package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/status"
)

// bucketOutboxOpen indexes rows that still have undelivered destinations,
// so the dispatcher never scans delivered history.
var bucketOutboxOpen = []byte("outbox_open")

// DeliveryState is one destination's progress with one row.
type DeliveryState string

// Delivery states. A row is marked sending durably before the request, so
// after a crash an ambiguous send is known and reconciled, not guessed.
const (
	Pending DeliveryState = "pending"
	Sending DeliveryState = "sending"
	Sent    DeliveryState = "sent"
	Failed  DeliveryState = "failed"
	// Held waits for a person to release it (publish.mode: manual).
	Held DeliveryState = "held"
	// Cancelled was withdrawn by a person before it was sent.
	Cancelled DeliveryState = "cancelled"
	// Ambiguous was being sent when the process stopped, on a channel
	// without idempotency keys: not re-sent, so at most once.
	Ambiguous DeliveryState = "ambiguous"
)

// Open reports a delivery that may still be sent.
func (s DeliveryState) Open() bool { return s == Pending || s == Sending || s == Held }

// Dest is one destination of an event, with the publish policy applied.
type Dest struct {
	Name  string
	Delay time.Duration // first attempt no sooner than this (publish.mode: delay)
	Hold  bool          // wait for a person (publish.mode: manual)
}

// Delivery is the state of one event for one destination.
type Delivery struct {
	State     DeliveryState `json:"state"`
	Attempts  int           `json:"attempts"`
	NextAt    time.Time     `json:"next_at,omitzero"`
	LastError string        `json:"last_error,omitempty"`
	UpdatedAt time.Time     `json:"updated_at"`
	// RemoteID is what the destination called it (a post id), for threading.
	RemoteID string `json:"remote_id,omitempty"`
	// FirstAttemptAt is when the first request went out: a service that
	// forgets idempotency keys may have posted since then.
	FirstAttemptAt time.Time `json:"first_attempt_at,omitzero"`
}

// OutboxRow is one event and its deliveries.
type OutboxRow struct {
	Seq        uint64               `json:"seq"`
	Event      status.Event         `json:"event"`
	CreatedAt  time.Time            `json:"created_at"`
	Deliveries map[string]*Delivery `json:"deliveries"`
}

// Done reports a row with no delivery left to attempt.
func (r *OutboxRow) Done() bool {
	for _, d := range r.Deliveries {
		if d.State.Open() {
			return false
		}
	}
	return true
}

// ErrNotFound is returned for unknown rows, incidents and destinations.
var ErrNotFound = errors.New("not found")

func enqueue(tx *bolt.Tx, ev status.Event, dests []Dest, now time.Time) (uint64, error) {
	b := tx.Bucket(bucketOutbox)
	seq, err := b.NextSequence()
	if err != nil {
		return 0, err
	}
	row := OutboxRow{Seq: seq, Event: ev, CreatedAt: now, Deliveries: map[string]*Delivery{}}
	for _, d := range dests {
		del := &Delivery{State: Pending, NextAt: now.Add(d.Delay), UpdatedAt: now}
		if d.Hold {
			del.State = Held
		}
		row.Deliveries[d.Name] = del
	}
	if err := putJSON(b, be64(seq), row); err != nil {
		return 0, err
	}
	if len(dests) > 0 {
		return seq, tx.Bucket(bucketOutboxOpen).Put(be64(seq), nil)
	}
	return seq, nil
}

// Enqueue adds an event outside an engine step (the dispatcher's
// delivery.failed), in its own transaction.
func (s *Store) Enqueue(ev status.Event, dests []Dest, now time.Time) (uint64, error) {
	var seq uint64
	err := s.update(func(tx *bolt.Tx) error {
		var err error
		seq, err = enqueue(tx, ev, dests, now)
		return err
	})
	return seq, err
}

// Unfinished returns rows (oldest first, at most limit) that still have a
// pending or sending delivery.
func (s *Store) Unfinished(limit int) ([]OutboxRow, error) {
	var rows []OutboxRow
	err := s.view(func(tx *bolt.Tx) error {
		return eachOpenRow(tx, func(r *OutboxRow) bool {
			rows = append(rows, *r)
			return len(rows) < limit
		})
	})
	return rows, err
}

// OutboxRow reads one row.
func (s *Store) OutboxRow(seq uint64) (OutboxRow, error) {
	var r OutboxRow
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketOutbox).Get(be64(seq))
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &r)
	})
	return r, err
}

// UpdateDelivery changes one destination's delivery of one row in its own
// transaction (fsync'd before it returns), through fn.
func (s *Store) UpdateDelivery(seq uint64, dest string, now time.Time, fn func(d *Delivery)) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		v := b.Get(be64(seq))
		if v == nil {
			return fmt.Errorf("outbox row %d: %w", seq, ErrNotFound)
		}
		var r OutboxRow
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		d, ok := r.Deliveries[dest]
		if !ok {
			return fmt.Errorf("outbox row %d destination %s: %w", seq, dest, ErrNotFound)
		}
		fn(d)
		d.UpdatedAt = now
		if err := putJSON(b, be64(seq), r); err != nil {
			return err
		}
		if r.Done() {
			return tx.Bucket(bucketOutboxOpen).Delete(be64(seq))
		}
		return nil
	})
}

// CancelGone cancels open deliveries to destinations that no longer exist
// (a channel removed from the config, webhooks turned off), so they do not
// count as a backlog forever. It returns how many it cancelled.
func (s *Store) CancelGone(exists func(dest string) bool, now time.Time) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		n = 0
		out, open := tx.Bucket(bucketOutbox), tx.Bucket(bucketOutboxOpen)
		var done [][]byte
		c := open.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			var r OutboxRow
			if err := json.Unmarshal(out.Get(k), &r); err != nil {
				return fmt.Errorf("outbox row %d: %w", binary.BigEndian.Uint64(k), err)
			}
			changed := false
			for dest, d := range r.Deliveries {
				if d.State.Open() && !exists(dest) {
					d.State, d.LastError, d.UpdatedAt = Cancelled, "not sent: "+dest+" is no longer configured", now
					changed = true
					n++
				}
			}
			if !changed {
				continue
			}
			if err := putJSON(out, k, r); err != nil {
				return err
			}
			if r.Done() {
				done = append(done, append([]byte(nil), k...))
			}
		}
		return deleteKeys(open, done)
	})
	return n, err
}

// Depth is the outbox backlog of one destination.
type Depth struct {
	Pending int
	Oldest  time.Time // creation time of the oldest unfinished row
}

// OutboxDepth counts unfinished deliveries per destination.
func (s *Store) OutboxDepth() (map[string]Depth, error) {
	rows, err := s.Unfinished(1 << 30)
	if err != nil {
		return nil, err
	}
	out := map[string]Depth{}
	for _, r := range rows {
		for dest, d := range r.Deliveries {
			if !d.State.Open() {
				continue
			}
			x := out[dest]
			x.Pending++
			if x.Oldest.IsZero() || r.CreatedAt.Before(x.Oldest) {
				x.Oldest = r.CreatedAt
			}
			out[dest] = x
		}
	}
	return out, nil
}

// bucketThreads maps incident id + "\x00" + destination to the remote id
// of the incident's first post there, so updates can reply to it.
var bucketThreads = []byte("threads")

func threadKey(incident, dest string) []byte { return []byte(incident + "\x00" + dest) }

// SetThread records the first post of an incident on a destination; later
// calls for the same pair keep the first.
func (s *Store) SetThread(incident, dest, remoteID string) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketThreads)
		if b.Get(threadKey(incident, dest)) != nil {
			return nil
		}
		return b.Put(threadKey(incident, dest), []byte(remoteID))
	})
}

// Thread returns the remote id of an incident's first post on dest, or "".
func (s *Store) Thread(incident, dest string) string {
	var id string
	_ = s.view(func(tx *bolt.Tx) error {
		id = string(tx.Bucket(bucketThreads).Get(threadKey(incident, dest)))
		return nil
	})
	return id
}

// RecentOutbox returns up to limit rows, newest first, delivered or not:
// the delivery log.
func (s *Store) RecentOutbox(limit int) ([]OutboxRow, error) {
	var rows []OutboxRow
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, v := c.Last(); k != nil && len(rows) < limit; k, v = c.Prev() {
			var r OutboxRow
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			rows = append(rows, r)
		}
		return nil
	})
	return rows, err
}

// bucketSettings keeps small values channels must not lose across restarts
// (a Bluesky session's rotating refresh token).
var bucketSettings = []byte("settings")

// Setting reads a stored value ("" when unset).
func (s *Store) Setting(key string) string {
	var v string
	_ = s.view(func(tx *bolt.Tx) error { v = string(tx.Bucket(bucketSettings).Get([]byte(key))); return nil })
	return v
}

// SetSetting stores a value durably.
func (s *Store) SetSetting(key, value string) error {
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketSettings).Put([]byte(key), []byte(value)) })
}
