package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
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

// known reports one of the states above: an entry naming another is
// refused, not written.
func (s DeliveryState) known() bool {
	switch s {
	case Pending, Sending, Sent, Failed, Held, Cancelled, Ambiguous:
		return true
	}
	return false
}

// Open reports a delivery that may still be sent.
func (s DeliveryState) Open() bool { return s == Pending || s == Sending || s == Held }

// Dest is one destination of an event, with the publish policy applied.
type Dest struct {
	Name  string        `json:"name"`
	Delay time.Duration `json:"delay,omitempty"` // first attempt no sooner than this (publish.mode: delay)
	Hold  bool          `json:"hold,omitempty"`  // wait for a person (publish.mode: manual)
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
		var err error
		r, err = getRow(tx, seq)
		return err
	})
	return r, err
}

// getRow reads row seq: ErrNotFound itself when there is none, so callers
// name it as they show it.
func getRow(tx *bolt.Tx, seq uint64) (OutboxRow, error) {
	var r OutboxRow
	v := tx.Bucket(bucketOutbox).Get(be64(seq))
	if v == nil {
		return r, ErrNotFound
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("outbox row %d: %w", seq, err)
	}
	return r, nil
}

// putRow writes r and keeps the open index: a row with nothing left to
// attempt leaves it. Not for use under a cursor over the index.
func putRow(tx *bolt.Tx, r OutboxRow) error {
	if err := putJSON(tx.Bucket(bucketOutbox), be64(r.Seq), r); err != nil {
		return err
	}
	if r.Done() {
		return tx.Bucket(bucketOutboxOpen).Delete(be64(r.Seq))
	}
	return nil
}

// Mark is one channel delivery's progress. A send begins with a durable
// claim (Sending, attempts counted) before the request, so after a crash
// an ambiguous send is known rather than silently repeated or forgotten.
type Mark struct {
	Seq  uint64        `json:"seq"`
	Dest string        `json:"dest"`
	To   DeliveryState `json:"to"`
	// Error becomes the delivery's last error ("" clears it), except on
	// a claim (To: Sending), which keeps the previous attempt's.
	Error  string    `json:"error,omitempty"`
	NextAt time.Time `json:"next_at,omitzero"`
	// RemoteID is what the destination called the post; with Thread, an
	// incident's id, it is also recorded as that incident's thread on Dest
	// (the first post of an incident stays its thread).
	RemoteID string `json:"remote_id,omitempty"`
	Thread   string `json:"thread,omitempty"`
	// Term, on a claim, is the term of the leadership it was made under
	// (0: a single node). Applied from a replicated log in another term,
	// the claim is refused (ErrDeposed): a leader that lost its
	// leadership sends nothing more, since its claim comes before its
	// request and cannot commit.
	Term uint64 `json:"term,omitempty"`
}

// ErrDeposed refuses a claim made by a leader that no longer leads.
var ErrDeposed = errors.New("claimed under a leadership that has ended")

func applyMarks(tx *bolt.Tx, marks []Mark, term uint64, now time.Time, res *Result) error {
	for _, m := range marks {
		if m.To == Sending && m.Term != 0 && term != 0 && m.Term != term {
			return refuse(fmt.Errorf("outbox row %d destination %s: term %d, the log's is %d: %w", m.Seq, m.Dest, m.Term, term, ErrDeposed))
		}
		if err := applyMark(tx, m, now, res); err != nil {
			return err
		}
	}
	return nil
}

func applyMark(tx *bolt.Tx, m Mark, now time.Time, res *Result) error {
	if !m.To.known() {
		return fmt.Errorf("outbox row %d destination %s: unknown delivery state %q", m.Seq, m.Dest, m.To)
	}
	r, err := getRow(tx, m.Seq)
	if err != nil {
		return refuseMissing(fmt.Errorf("outbox row %d: %w", m.Seq, err))
	}
	d, ok := r.Deliveries[m.Dest]
	if !ok {
		return refuse(fmt.Errorf("outbox row %d destination %s: %w", m.Seq, m.Dest, ErrNotFound))
	}
	if m.To == Sending {
		if d.FirstAttemptAt.IsZero() {
			d.FirstAttemptAt = now
		}
		d.Attempts++
	}
	d.State, d.UpdatedAt = m.To, now
	if m.To != Sending { // a claim keeps the last attempt's error
		d.LastError = m.Error
	}
	if !m.NextAt.IsZero() {
		d.NextAt = m.NextAt
	}
	if m.RemoteID != "" {
		d.RemoteID = m.RemoteID
	}
	if m.Thread != "" && m.RemoteID != "" {
		threads := tx.Bucket(bucketThreads)
		if threads.Get(threadKey(m.Thread, m.Dest)) == nil {
			if err := threads.Put(threadKey(m.Thread, m.Dest), []byte(m.RemoteID)); err != nil {
				return err
			}
		}
	}
	res.Delivery = *d
	return putRow(tx, r)
}

// applyKeepDests cancels open deliveries to destinations not in keep (a
// channel removed from the config, webhooks turned off), so they do not
// count as a backlog forever.
func applyKeepDests(tx *bolt.Tx, keep []string, now time.Time, res *Result) error {
	var open []uint64 // read first: putRow changes the index
	c := tx.Bucket(bucketOutboxOpen).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		open = append(open, binary.BigEndian.Uint64(k))
	}
	for _, seq := range open {
		r, err := getRow(tx, seq)
		if err != nil {
			return fmt.Errorf("outbox row %d: %w", seq, err)
		}
		changed := false
		for _, dest := range slices.Sorted(maps.Keys(r.Deliveries)) {
			if d := r.Deliveries[dest]; d.State.Open() && !slices.Contains(keep, dest) {
				d.State, d.LastError, d.UpdatedAt = Cancelled, "not sent: "+dest+" is no longer configured", now
				changed = true
				res.Changed++
			}
		}
		if changed {
			if err := putRow(tx, r); err != nil {
				return err
			}
		}
	}
	return nil
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

// Thread returns the remote id of an incident's first post on dest, or "".
func (s *Store) Thread(incident, dest string) (string, error) {
	var id string
	err := s.view(func(tx *bolt.Tx) error {
		id = string(tx.Bucket(bucketThreads).Get(threadKey(incident, dest)))
		return nil
	})
	return id, err
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

// bucketSettings keeps small values that must survive restarts: in the
// replicated file the site keys and heartbeat tokens' hashes, in the
// local file a Bluesky session's rotating refresh token.
var bucketSettings = []byte("settings")

// Setting reads a stored value ("" when unset).
func (s *Store) Setting(key string) (string, error) {
	var v string
	err := s.view(func(tx *bolt.Tx) error { v = string(tx.Bucket(bucketSettings).Get([]byte(key))); return nil })
	return v, err
}
