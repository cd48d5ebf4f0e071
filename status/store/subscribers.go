package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/status"
)

// Subscribers have a kind. Both kinds share one subscriptions bucket, one
// fan-out (fanout.go), one deliveries table (the wh_* buckets keep their
// names: files written before kinds open unchanged) and one outcome entry
// whose rule depends on the kind (outcomes.go). This file holds what only
// email subscribers have: double opt-in, preferences, and the reads the
// subscribe pages need.

// SubKind is what a subscriber receives deliveries by.
type SubKind string

// Subscriber kinds.
const (
	KindWebhook SubKind = "webhook"
	KindEmail   SubKind = "email"
)

// EmailDest is the outbox destination standing for every email
// subscriber, as WebhooksDest is for webhooks.
const EmailDest = "@email"

// DestKind is the kind of subscriber a destination stands for; false for
// a channel.
func DestKind(dest string) (SubKind, bool) {
	switch dest {
	case WebhooksDest:
		return KindWebhook, true
	case EmailDest:
		return KindEmail, true
	}
	return "", false
}

// UnmarshalJSON reads a row written before subscribers had a kind as a
// webhook subscription.
func (s *Subscription) UnmarshalJSON(b []byte) error {
	type plain Subscription // no methods: no recursion
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	p.Kind = storedKind(p.Kind)
	*s = Subscription(p)
	return nil
}

// storedKind is the kind a stored row's kind field stands for: rows
// written before kinds have none and are webhooks.
func storedKind(k SubKind) SubKind {
	if k == "" {
		return KindWebhook
	}
	return k
}

// EmailWants reports whether an email subscriber takes ev: confirmed and
// active (a paused one gets nothing while paused, see pauseMail),
// incident events about a chosen component (none chosen: all),
// maintenance only if chosen, never a component change outside an
// incident nor an operators' event.
func (s *Subscription) EmailWants(ev status.Event) bool {
	if s.Kind != KindEmail || s.State != SubActive || !EmailEvent(ev) {
		return false
	}
	if ev.Type != status.IncidentCreated && ev.Type != status.IncidentUpdated && ev.Type != status.IncidentResolved && !s.Maintenance {
		return false // a maintenance event, not chosen
	}
	return s.Components == nil || slices.ContainsFunc(ev.Incident.Components, func(id string) bool { return slices.Contains(s.Components, id) })
}

// EmailEvent reports whether any email subscriber can take ev: an
// incident's events, and maintenance (for those who chose it); never a
// component change outside an incident nor an operators' event. The
// router sends to @email only what passes it, and EmailWants decides per
// subscriber on top of it: one rule for both.
func EmailEvent(ev status.Event) bool {
	if ev.Incident == nil {
		return false
	}
	switch ev.Type {
	case status.IncidentCreated, status.IncidentUpdated, status.IncidentResolved,
		status.MaintenanceScheduled, status.MaintenanceStarted, status.MaintenanceCompleted, status.MaintenanceCancelled:
		return true
	}
	return false
}

// DisableAfterPermanent is how many permanent failures in a row (a 5xx
// for the recipient on as many mails) disable an email subscriber, when
// the policy names none.
const DisableAfterPermanent = 3

// subscribeEmail stores a pending email subscriber, one per address. For
// an address already pending, the new token and the new form's choices
// (components, maintenance) replace the old ones, unless
// the address had its MaxConfirmations in ConfirmWindow (res.Limited:
// nothing changes, no mail goes); one already confirmed (or paused, or
// disabled) is left as it is. The result carries the address's subscriber
// either way, and no error tells the caller which it was.
func subscribeEmail(tx *bolt.Tx, n NewSubscription, now time.Time, res *Result) error {
	b := tx.Bucket(bucketSubs)
	sub := n.Sub
	if sub.Address == "" || sub.ConfirmHash == "" || sub.ConfirmUntil.IsZero() {
		return refuse(errors.New("email subscriber without an address, a token hash or an expiry"))
	}
	old, err := emailBy(tx, addressKey(sub.Address))
	if err != nil {
		return err
	}
	if old != nil && old.State != SubPending {
		res.Subscription = *old
		return nil
	}
	recent, err := mailboxSent(tx, sub.Address, now)
	if err != nil {
		return err
	}
	if len(recent) >= MaxConfirmations {
		if old != nil {
			res.Subscription = *old
		}
		res.Limited = true
		return nil
	}
	var oldHash string // the link a form posted again replaces
	if old == nil {
		if b.Get([]byte(sub.ID)) != nil {
			return refuse(fmt.Errorf("subscription %s exists", sub.ID))
		}
		sub.State = SubPending
	} else {
		// The newest form is what the person wants: its link confirms
		// its choices (a confirmed subscriber changes them only through
		// its manage link).
		oldHash = old.ConfirmHash
		old.ConfirmHash, old.ConfirmUntil = sub.ConfirmHash, sub.ConfirmUntil
		old.Components, old.Maintenance = sub.Components, sub.Maintenance
		sub = *old
	}
	res.Subscription = sub
	if err := putJSON(tx.Bucket(bucketMailbox), mailboxKey(sub.Address), append(recent, now)); err != nil {
		return err
	}
	if err := indexEmail(tx, oldHash, sub); err != nil {
		return err
	}
	return putJSON(b, []byte(sub.ID), sub)
}

// ErrTokenExpired is a confirmation link used after its expiry.
var ErrTokenExpired = errors.New("the confirmation link has expired")

// Confirmation confirms the pending email subscriber whose confirmation
// token hashes to TokenHash, before the token's expiry (the entry's time).
type Confirmation struct {
	TokenHash string `json:"token_hash"`
}

func applyConfirm(tx *bolt.Tx, c Confirmation, now time.Time, res *Result) error {
	b := tx.Bucket(bucketSubs)
	sub, err := emailBy(tx, confirmKey(c.TokenHash))
	switch {
	case err != nil:
		return err
	case c.TokenHash == "" || sub == nil:
		return refuse(ErrNotFound)
	case sub.State != SubPending:
		return refuse(fmt.Errorf("subscriber is %s: %w", sub.State, ErrSubState))
	case !now.Before(sub.ConfirmUntil):
		return refuse(ErrTokenExpired)
	}
	// The hash stays, so a second click finds the subscriber and is told
	// it is confirmed already (ErrSubState), not that the link is unknown.
	sub.State, sub.StateAt, sub.ConfirmedAt, sub.ConfirmUntil = SubActive, now, now, time.Time{}
	res.Subscription, res.subsMoved = *sub, true
	return putJSON(b, []byte(sub.ID), sub)
}

// Preferences sets what an email subscriber hears: Components (nil: all)
// and whether maintenance too.
type Preferences struct {
	ID          string   `json:"id"`
	Components  []string `json:"components,omitempty"`
	Maintenance bool     `json:"maintenance,omitempty"`
}

func applyPreferences(tx *bolt.Tx, p Preferences, res *Result) error {
	b := tx.Bucket(bucketSubs)
	var sub Subscription
	ok, err := getJSON(b, []byte(p.ID), &sub)
	if err != nil {
		return fmt.Errorf("subscription %s: %w", p.ID, err)
	}
	if !ok || sub.Kind != KindEmail {
		return refuse(ErrNotFound)
	}
	sub.Components, sub.Maintenance = p.Components, p.Maintenance
	res.Subscription = sub
	return putJSON(b, []byte(p.ID), sub)
}

// forgetUnconfirmed deletes email subscribers still pending that were
// created before cutoff (the privacy notice's 7 days).
func forgetUnconfirmed(tx *bolt.Tx, cutoff time.Time) error {
	var ids []string
	if err := tx.Bucket(bucketSubs).ForEach(func(k, v []byte) error {
		var x Subscription
		if err := json.Unmarshal(v, &x); err != nil {
			return fmt.Errorf("subscription %s: %w", k, err)
		}
		if x.Kind == KindEmail && x.State == SubPending && x.CreatedAt.Before(cutoff) {
			ids = append(ids, x.ID)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, id := range ids {
		if err := deleteSubscription(tx, id); err != nil {
			return err
		}
	}
	return nil
}

// SubscriberByConfirmHash reads the email subscriber whose confirmation
// token hashes to hash (the confirm page shows what a click would do).
func (s *Store) SubscriberByConfirmHash(hash string) (Subscription, error) {
	if hash == "" {
		return Subscription{}, ErrNotFound
	}
	return s.emailSubscriber(confirmKey(hash))
}

// EmailSubscriber reads the subscriber of an address, compared without
// case (for an operator's data-protection request).
func (s *Store) EmailSubscriber(address string) (Subscription, error) {
	return s.emailSubscriber(addressKey(address))
}

func (s *Store) emailSubscriber(key []byte) (Subscription, error) {
	var sub *Subscription
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		sub, err = emailBy(tx, key)
		return err
	})
	if err == nil && sub == nil {
		err = ErrNotFound
	}
	if err != nil {
		return Subscription{}, err
	}
	return *sub, nil
}

// pauseMail cancels the mails still waiting for an email subscriber who
// has just paused: a mail about an incident is news only when it is sent,
// so resuming does not bring a backlog of old ones. A mail already handed
// to the SMTP server (marked sending) is left to finish. Webhook
// subscribers' deliveries wait for their resume instead.
func pauseMail(tx *bolt.Tx, sub *Subscription, now time.Time) error {
	if sub.Kind != KindEmail || sub.State != SubPaused {
		return nil
	}
	for _, seq := range subDeliveries(tx, sub.ID) {
		var d WebhookDelivery
		ok, err := getJSON(tx.Bucket(bucketWHDelivery), seq, &d)
		if err != nil {
			return fmt.Errorf("delivery %x: %w", seq, err)
		}
		if !ok || d.State != Pending {
			continue
		}
		cancelDelivery(&d, sub, now)
		if err := putDelivery(tx, &d); err != nil {
			return err
		}
	}
	return nil
}
