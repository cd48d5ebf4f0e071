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
// site key: /unsubscribe/{token} and /manage/{token} work with no login
// and no expiry, so an old mail's links still work (a key rotation ends
// both).
type CapabilityLinks struct {
	SiteURL string
	Keys    SiteKeys
}

var _ Links = CapabilityLinks{}

// Unsubscribe is {site.url}/unsubscribe/{token}; "" when no key can sign
// it, which the Composer refuses, so such a mail fails (without counting
// against the subscriber) instead of going out without a way to leave.
func (l CapabilityLinks) Unsubscribe(sub store.Subscription) string {
	_, u := l.For(sub)
	return u
}

// For is sub's links: the manage page ({site.url}/manage/{token}:
// components, pause, unsubscribe, delete my data) and the one-click
// unsubscribe URL, both from one read of the keys; "" for what no key can
// sign (the Composer then refuses the mail).
func (l CapabilityLinks) For(sub store.Subscription) (manage, unsubscribe string) {
	keys, err := l.Keys.SiteKeys()
	if err != nil {
		return "", ""
	}
	key, ok := keys.Current()
	if !ok {
		return "", ""
	}
	return l.link(key, sub, capability.Manage, "/manage/"), l.link(key, sub, capability.Unsubscribe, "/unsubscribe/")
}

// link is sub's capability URL for purpose under path, "" when key
// cannot sign it.
func (l CapabilityLinks) link(key capability.Key, sub store.Subscription, purpose capability.Purpose, path string) string {
	token, err := capability.Sign(key, sub.ID, purpose, time.Time{})
	if err != nil {
		return ""
	}
	return strings.TrimRight(l.SiteURL, "/") + path + token
}
