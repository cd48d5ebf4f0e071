package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/outpost-status/outpost/status"
	bolt "go.etcd.io/bbolt"
)

// Webhook subscriptions: created with their verification delivery, read,
// changed and deleted, each in one transaction.

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

// ErrTooManySubscriptions is returned when a client address is at its cap.
var ErrTooManySubscriptions = errors.New("too many subscriptions from this address")

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
//
// Audit entries given (a change made with an admin token) are written in
// the same transaction: the change and its record, or neither.
func (s *Store) UpdateSubscription(id string, fn func(*Subscription) error, audit ...status.AuditEntry) (Subscription, error) {
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
		if err := putAudits(tx, audit); err != nil {
			return err
		}
		return putJSON(b, []byte(id), sub)
	})
	return sub, err
}

func putAudits(tx *bolt.Tx, entries []status.AuditEntry) error {
	for _, a := range entries {
		if err := putAudit(tx, a); err != nil {
			return err
		}
	}
	return nil
}

// DeleteSubscription removes a subscription and its deliveries, sent or
// not, with its audit entries (if any) in the same transaction.
func (s *Store) DeleteSubscription(id string, audit ...status.AuditEntry) error {
	defer s.subsChanged()
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSubs)
		if b.Get([]byte(id)) == nil {
			return ErrNotFound
		}
		if err := putAudits(tx, audit); err != nil {
			return err
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
