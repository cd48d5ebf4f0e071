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
// site key: /unsubscribe/{token} and /manage/{token} work with no login
// and no expiry, so an old mail's links still work (a key rotation ends
// both).
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
	_, u, err := l.For(sub)
	return u, err
}

// For is sub's links: the manage page ({site.url}/manage/{token}:
// components, pause, unsubscribe, delete my data) and the one-click
// unsubscribe URL, both from one read of the keys; an error (ErrNoSiteKey
// when the keys are the trouble) when they cannot be signed.
func (l CapabilityLinks) For(sub store.Subscription) (manage, unsubscribe string, err error) {
	keys, err := l.Keys.SiteKeys()
	if err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrNoSiteKey, err)
	}
	key, ok := keys.Current()
	if !ok {
		return "", "", ErrNoSiteKey
	}
	if manage, err = l.link(key, sub, capability.Manage, "/manage/"); err != nil {
		return "", "", err
	}
	if unsubscribe, err = l.link(key, sub, capability.Unsubscribe, "/unsubscribe/"); err != nil {
		return "", "", err
	}
	return manage, unsubscribe, nil
}

// link is sub's capability URL for purpose under path.
func (l CapabilityLinks) link(key capability.Key, sub store.Subscription, purpose capability.Purpose, path string) (string, error) {
	token, err := capability.Sign(key, sub.ID, purpose, time.Time{})
	if err != nil {
		return "", fmt.Errorf("email: sign the %s link: %w", purpose, err)
	}
	return strings.TrimRight(l.SiteURL, "/") + path + token, nil
}
