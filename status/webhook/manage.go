package webhook

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// Managing a subscription once it exists: its owner's token, deletion,
// secret rotation, test pings, pausing and resuming. Changes made with an
// admin token carry their audit entries into the same transaction.

// Owner reports whether token is the subscription's unsubscribe token.
func (s *Service) Owner(id, token string) bool {
	sub, err := s.o.Store.Subscription(id)
	if err != nil || token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(store.HashToken(token)), []byte(sub.TokenHash)) == 1
}

// Delete removes a subscription and its deliveries.
//
// Audit entries given are committed with the change (service.go's methods
// that change a subscription all take them).
func (s *Service) Delete(id string, audit ...status.AuditEntry) error {
	_, err := s.change(store.SubscriptionChange{ID: id, Delete: true}, audit)
	return err
}

// change commits c with its audit entries through the log.
func (s *Service) change(c store.SubscriptionChange, audit []status.AuditEntry) (store.Subscription, error) {
	res, err := s.o.Log.Apply(store.Entry{At: s.o.Now(), Subscription: &c, Audit: audit})
	return res.Subscription, err
}

// Rotate issues a new secret; the old ones keep signing for the overlap.
func (s *Service) Rotate(id string, audit ...status.AuditEntry) (string, time.Time, error) {
	now := s.o.Now()
	secret, err := NewSecret()
	if err != nil {
		return "", time.Time{}, err
	}
	until := now.Add(s.o.Overlap)
	_, err = s.o.Log.Apply(store.Entry{At: now, Subscription: &store.SubscriptionChange{ID: id, Secret: secret, Until: until}, Audit: audit})
	return secret, until, err
}

// Ping queues a signed test delivery to an active subscription, so its
// owner can check their receiver; it is retried and logged like any other.
func (s *Service) Ping(id string) (string, error) {
	sub, err := s.o.Store.Subscription(id)
	if err != nil {
		return "", err
	}
	if sub.State != store.SubActive {
		return "", fmt.Errorf("subscription is %s: %w", sub.State, ErrState)
	}
	now := s.o.Now()
	msg := fmt.Sprintf("msg_ping_%s_%d", id, now.UnixNano())
	body, err := json.Marshal(envelope{Type: PingType, Timestamp: stamp(now),
		Data: map[string]string{"subscription_id": id, "message": "A test delivery, as you asked."}})
	if err != nil {
		return "", err
	}
	_, err = s.o.Log.Apply(store.Entry{At: now, Ping: &store.WebhookDelivery{Sub: id, MessageID: msg, Type: PingType, Body: body,
		State: store.Pending, NextAt: now, CreatedAt: now}})
	if err != nil {
		return "", err
	}
	return msg, nil
}

// Pause stops deliveries to a subscription until Resume; they wait.
func (s *Service) Pause(id string, audit ...status.AuditEntry) (store.Subscription, error) {
	return s.setState(id, store.SubPaused, "", []store.SubState{store.SubActive}, audit)
}

// Resume re-enables a paused or disabled subscription.
func (s *Service) Resume(id string, audit ...status.AuditEntry) (store.Subscription, error) {
	return s.setState(id, store.SubActive, "", []store.SubState{store.SubPaused, store.SubDisabled}, audit)
}

func (s *Service) setState(id string, to store.SubState, reason string, from []store.SubState, audit []status.AuditEntry) (store.Subscription, error) {
	return s.change(store.SubscriptionChange{ID: id, State: to, From: from, Reason: reason}, audit)
}
