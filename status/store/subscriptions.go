package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

// Subscription is one subscriber: a webhook endpoint or an email
// address (Kind). Components, State, TokenHash, Client, CreatedAt,
// StateAt and Reason mean the same for both kinds.
type Subscription struct {
	ID string `json:"id"`
	// Kind is webhook or email; a row written before subscribers had a
	// kind has none and reads as a webhook (UnmarshalJSON).
	Kind       SubKind   `json:"kind,omitempty"`
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
	// Format is the body's shape: "" (the Standard Webhooks envelope) or
	// "statuspage" (Statuspage's own body, built at send time).
	Format string `json:"format,omitempty"`

	// Email subscribers (subscribers.go): the address, whether they
	// want maintenance (incidents they always get), the confirmation
	// token's hash and expiry, when confirmed, and the permanent failures
	// in a row that disable them at DisableAfterPermanent.
	Address           string    `json:"address,omitempty"`
	Maintenance       bool      `json:"maintenance,omitempty"`
	ConfirmHash       string    `json:"confirm_hash,omitempty"`
	ConfirmUntil      time.Time `json:"confirm_until,omitzero"`
	ConfirmedAt       time.Time `json:"confirmed_at,omitzero"`
	PermanentFailures int       `json:"permanent_failures,omitempty"`
}

// Counts reports whether the subscription holds a place under the
// per-client cap (expired ones do not).
func (s *Subscription) Counts() bool { return s.State != SubExpired }

// ErrTooManySubscriptions is returned when a client address is at its cap.
var ErrTooManySubscriptions = errors.New("too many subscriptions from this address")

// NewSubscription is a pending subscription with its challenge delivery,
// refused if its client address already holds PerClient subscriptions. An
// operator's subscription comes active, with no challenge (Verify zero).
type NewSubscription struct {
	Sub       Subscription    `json:"sub"`
	Verify    WebhookDelivery `json:"verify"`
	PerClient int             `json:"per_client,omitempty"`
}

func applySubscribe(tx *bolt.Tx, n NewSubscription, now time.Time, res *Result) error {
	b := tx.Bucket(bucketSubs)
	if n.Sub.Kind == KindEmail {
		return subscribeEmail(tx, n, now, res)
	}
	// Stored with its kind: a row without one reads as a webhook, so an
	// entry applied as built and one applied after a codec round trip
	// (which fills the kind in) must write the same bytes.
	if n.Sub.Kind == "" {
		n.Sub.Kind = KindWebhook
	}
	// A kind or state a newer writer knows is no refusal: a newer node may
	// apply the entry otherwise, so this one must not store it as a webhook.
	if n.Sub.Kind != KindWebhook {
		return fmt.Errorf("subscription %s: unknown kind %q", n.Sub.ID, n.Sub.Kind)
	}
	if n.Sub.State != "" && !n.Sub.State.known() {
		return fmt.Errorf("subscription %s: unknown state %q", n.Sub.ID, n.Sub.State)
	}
	held := 0
	if err := b.ForEach(func(_, v []byte) error {
		var x Subscription
		if err := json.Unmarshal(v, &x); err != nil {
			return err
		}
		if x.Client == n.Sub.Client && x.Counts() {
			held++
		}
		return nil
	}); err != nil {
		return err
	}
	if n.PerClient > 0 && held >= n.PerClient {
		return refuse(ErrTooManySubscriptions)
	}
	if b.Get([]byte(n.Sub.ID)) != nil {
		return refuse(fmt.Errorf("subscription %s exists", n.Sub.ID))
	}
	if err := putJSON(b, []byte(n.Sub.ID), n.Sub); err != nil {
		return err
	}
	if n.Verify.Type == "" { // an operator's subscriber: no challenge
		return nil
	}
	verify := n.Verify
	verify.Sub = n.Sub.ID
	return putDelivery(tx, &verify)
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

// ErrSubState is a change the subscription's state forbids.
var ErrSubState = errors.New("not possible in this state")

// SubscriptionChange changes one subscription: deletes it (with its
// deliveries, sent or not), moves it to State from one of From (already
// there: nothing changes), or makes Secret the newest signing secret, the
// older ones signing until Until (those already ended are dropped).
// Erase deletes too, and then wipes the file's free pages, where earlier
// versions of the deleted records stay readable until reused (erase.go).
type SubscriptionChange struct {
	ID     string     `json:"id"`
	Delete bool       `json:"delete,omitempty"`
	Erase  bool       `json:"erase,omitempty"`
	State  SubState   `json:"state,omitempty"`
	From   []SubState `json:"from,omitempty"`
	Reason string     `json:"reason,omitempty"`
	Secret string     `json:"secret,omitempty"`
	Until  time.Time  `json:"until,omitzero"`
}

func applySubscriptionChange(tx *bolt.Tx, c SubscriptionChange, now time.Time, res *Result) error {
	b := tx.Bucket(bucketSubs)
	var sub Subscription
	ok, err := getJSON(b, []byte(c.ID), &sub)
	if err != nil {
		return fmt.Errorf("subscription %s: %w", c.ID, err)
	}
	if !ok {
		return refuse(ErrNotFound)
	}
	if c.Erase {
		if err := oweWipe(tx); err != nil {
			return err
		}
	}
	if c.Delete || c.Erase {
		return deleteSubscription(tx, c.ID)
	}
	if c.State != "" && !c.State.known() {
		return fmt.Errorf("subscription %s: unknown state %q", c.ID, c.State)
	}
	if c.State != "" && sub.State != c.State {
		if !slices.Contains(c.From, sub.State) {
			return refuse(fmt.Errorf("subscription is %s: %w", sub.State, ErrSubState))
		}
		sub.State, sub.StateAt, sub.Reason = c.State, now, c.Reason
		if c.State == SubActive { // re-enabled: past failures no longer count
			sub.FailingSince, sub.PermanentFailures = time.Time{}, 0
		}
		if err := pauseMail(tx, &sub, now); err != nil {
			return err
		}
	}
	if c.Secret != "" {
		keep := []Secret{{Value: c.Secret}}
		for _, old := range sub.Secrets {
			if old.Until.IsZero() {
				old.Until = c.Until
			}
			if old.Until.After(now) {
				keep = append(keep, old)
			}
		}
		sub.Secrets = keep
	}
	res.Subscription = sub
	return putJSON(b, []byte(c.ID), sub)
}

func putAudits(tx *bolt.Tx, entries []status.AuditEntry) error {
	for _, a := range entries {
		if err := putAudit(tx, a); err != nil {
			return err
		}
	}
	return nil
}

// deleteSubscription removes a subscription and its deliveries.
func deleteSubscription(tx *bolt.Tx, id string) error {
	if err := unindexEmail(tx, id); err != nil {
		return err
	}
	if err := tx.Bucket(bucketSubs).Delete([]byte(id)); err != nil {
		return err
	}
	idx := tx.Bucket(bucketWHBySub)
	for _, seq := range subDeliveries(tx, id) {
		// The delivery is in its kind's open index: deleting from both
		// needs no read of it.
		for _, bk := range [][]byte{bucketWHDelivery, bucketWHOpen, bucketEmailOpen} {
			if err := tx.Bucket(bk).Delete(seq); err != nil {
				return err
			}
		}
		if err := idx.Delete(append([]byte(id+"\x00"), seq...)); err != nil {
			return err
		}
	}
	return nil
}

// subDeliveries lists the sequences (be64) of subscription id's
// deliveries, oldest first, copied out of the wh_by_sub index so the
// caller may change it.
func subDeliveries(tx *bolt.Tx, id string) [][]byte {
	prefix := []byte(id + "\x00")
	var seqs [][]byte
	c := tx.Bucket(bucketWHBySub).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		seqs = append(seqs, bytes.Clone(k[len(prefix):]))
	}
	return seqs
}

// SubscriptionsVersion changes whenever a subscription is created,
// deleted, or changes state or URL, so the delivery loop can keep what
// it needs of them in memory between scans.
func (s *Store) SubscriptionsVersion() uint64 { return s.subsVersion.Load() }

func (s *Store) subsChanged() { s.subsVersion.Add(1) }
