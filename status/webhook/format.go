package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/capability"
	"github.com/outpost-status/outpost/status/statuspage"
	"github.com/outpost-status/outpost/status/store"
)

// Add stores a subscription an operator adds (the admin API): active at
// once, with no challenge, as Statuspage's operators add webhook
// subscribers; its audit entries commit with it. No per-address cap
// applies.
func (s *Service) Add(r Request, audit ...status.AuditEntry) (Created, error) {
	if err := s.Validate(r); err != nil {
		return Created{}, err
	}
	now := s.o.Now()
	sub, c, err := newSubscription(r, "operator", now)
	if err != nil {
		return Created{}, err
	}
	sub.State, sub.VerifiedAt = store.SubActive, now
	c.State = string(store.SubActive)
	for i := range audit {
		audit[i].Target = sub.ID
	}
	if _, err := s.o.Log.Apply(store.Entry{At: now, Subscribe: &store.NewSubscription{Sub: sub}, Audit: audit}); err != nil {
		return Created{}, fmt.Errorf("store subscription: %w", err)
	}
	s.o.Logger.Info("webhook subscription added by an operator", "subscription", sub.ID, "host", hostOf(r.URL))
	return c, nil
}

// bodyFor is what one subscriber is sent: the stored body itself, or, for
// a statuspage-format subscriber and an event, Statuspage's body built
// from the stored data object with this subscriber's meta. The stored
// body stays one per event; this part is made at send time.
func (s *Service) bodyFor(j store.WebhookJob) ([]byte, error) {
	if j.Sub.Format != FormatStatuspage || j.Delivery.Type == VerifyType || j.Delivery.Type == PingType {
		return j.Body, nil
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(j.Body, &env); err != nil {
		return nil, fmt.Errorf("stored body: %w", err)
	}
	unsubscribe, err := s.unsubscribeURL(j.Sub.ID)
	if err != nil {
		return nil, err
	}
	return statuspage.StatuspageBody(env.Data, statuspage.Meta{Unsubscribe: unsubscribe, Documentation: s.siteURL() + "/api/openapi.json"})
}

// errNoSiteKey is an unsubscribe link that cannot be signed because the
// site keys cannot be read or none is current: Outpost's trouble, not the
// receiver's, so the delivery is retried and not held against it.
var errNoSiteKey = errors.New("no site key to sign the unsubscribe link")

// unsubscribeURL is the subscriber's capability link to leave, signed with
// the current site key. It has no expiry: a body may be read long after;
// rotating the key ends it after the key's grace.
func (s *Service) unsubscribeURL(id string) (string, error) {
	keys, err := s.o.Store.SiteKeys()
	if err != nil {
		return "", fmt.Errorf("%w: site keys: %w", errNoSiteKey, err)
	}
	key, ok := keys.Current()
	if !ok {
		return "", errNoSiteKey
	}
	token, err := capability.Sign(key, id, capability.Unsubscribe, time.Time{})
	if err != nil {
		return "", err
	}
	return s.siteURL() + "/unsubscribe/" + token, nil
}

func (s *Service) siteURL() string { return strings.TrimRight(s.o.Site.URL, "/") }
