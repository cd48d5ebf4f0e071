package email

import (
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

// Unsubscribe is {site.url}/unsubscribe/{token}; "" when no key can sign
// it, which the Composer refuses, so such a mail fails (without counting
// against the subscriber) instead of going out without a way to leave.
func (l CapabilityLinks) Unsubscribe(sub store.Subscription) string {
	keys, err := l.Keys.SiteKeys()
	if err != nil {
		return ""
	}
	key, ok := keys.Current()
	if !ok {
		return ""
	}
	token, err := capability.Sign(key, sub.ID, capability.Unsubscribe, time.Time{})
	if err != nil {
		return ""
	}
	return strings.TrimRight(l.SiteURL, "/") + "/unsubscribe/" + token
}

// For is sub's links. The manage link is the unsubscribe page too, until
// a manage page (components, pause) exists: every mail still carries a
// working way to leave. One signature serves both (one read of the keys).
func (l CapabilityLinks) For(sub store.Subscription) (manage, unsubscribe string) {
	u := l.Unsubscribe(sub)
	return u, u
}
