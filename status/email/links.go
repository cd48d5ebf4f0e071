package email

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/outpost-status/outpost/status/capability"
	"github.com/outpost-status/outpost/status/store"
)

// SiteKeys reads the site keys that sign subscriber links (store.Store).
type SiteKeys interface {
	SiteKeys() (capability.Keys, error)
}

// CapabilityLinks builds a subscriber's links signed with the current
// site key: /unsubscribe/{token} works with no login and no expiry, so
// an old mail's List-Unsubscribe still works (a key rotation ends it).
type CapabilityLinks struct {
	SiteURL string
	Keys    SiteKeys
}

var _ Links = CapabilityLinks{}

// ErrNoSiteKey is a link that cannot be signed because the site keys
// cannot be read or none is current. It is Outpost's trouble, not the
// subscriber's: the mail waits for a retry (never counted against the
// address) instead of going out without a way to leave.
var ErrNoSiteKey = errors.New("email: no site key to sign the subscriber's links")

// Unsubscribe is {site.url}/unsubscribe/{token}; an error (ErrNoSiteKey
// when the keys are the trouble) when it cannot be signed.
func (l CapabilityLinks) Unsubscribe(sub store.Subscription) (string, error) {
	keys, err := l.Keys.SiteKeys()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoSiteKey, err)
	}
	key, ok := keys.Current()
	if !ok {
		return "", ErrNoSiteKey
	}
	token, err := capability.Sign(key, sub.ID, capability.Unsubscribe, time.Time{})
	if err != nil {
		return "", fmt.Errorf("email: sign the unsubscribe link: %w", err)
	}
	return strings.TrimRight(l.SiteURL, "/") + "/unsubscribe/" + token, nil
}

// For is sub's links. The manage link is the unsubscribe page too, until
// a manage page (components, pause) exists: every mail still carries a
// working way to leave. One signature serves both (one read of the keys).
func (l CapabilityLinks) For(sub store.Subscription) (manage, unsubscribe string, err error) {
	u, err := l.Unsubscribe(sub)
	return u, u, err
}
