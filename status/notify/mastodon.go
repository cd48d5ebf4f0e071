package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/mattn/go-mastodon"
)

// MastodonLimit is a toot's length, counted by MastodonLength.
const MastodonLimit = 500

// Mastodon posts statuses; updates reply to the incident's first post.
// Every request carries an Idempotency-Key derived from the outbox row, so
// a re-send after a crash returns the first post instead of a second one.
type Mastodon struct {
	client     *mastodon.Client
	visibility string
}

var _ Notifier = (*Mastodon)(nil)

// NewMastodon makes a client for server with an access token.
func NewMastodon(server, token, visibility string, base http.RoundTripper) *Mastodon {
	if base == nil {
		base = http.DefaultTransport
	}
	c := mastodon.NewClient(&mastodon.Config{Server: server, AccessToken: token})
	// go-mastodon has no header option: add the key per request.
	c.Client = http.Client{Transport: idempotencyKeys{base: base}}
	c.UserAgent = "Outpost"
	if visibility == "" {
		visibility = "public"
	}
	return &Mastodon{client: c, visibility: visibility}
}

var _ Inerter = (*Mastodon)(nil)

// Inert breaks @mentions: they would notify the accounts named.
func (m *Mastodon) Inert(text string) string { return noMentions(text) }

// Idempotent: Mastodon honours Idempotency-Key (for an hour).
func (m *Mastodon) Idempotent() bool { return true }

// Send posts m.Text (already fitted to MastodonLimit).
func (m *Mastodon) Send(ctx context.Context, msg Message) (string, error) {
	// go-mastodon retries 429 for as long as ctx lives: ctx has the per-send
	// timeout, so a throttled server cannot stall the worker.
	st, err := m.client.PostStatus(withKey(ctx, msg.Key), &mastodon.Toot{Status: msg.Text,
		InReplyToID: mastodon.ID(msg.ReplyTo), Visibility: m.visibility})
	var api *mastodon.APIError
	switch {
	case errors.As(err, &api) && api.StatusCode >= 400 && api.StatusCode < 500 && api.StatusCode != 408 && api.StatusCode != 429:
		return "", &PermanentError{Err: fmt.Errorf("mastodon: %w", err)}
	case err != nil:
		return "", fmt.Errorf("mastodon: %w", err)
	}
	return string(st.ID), nil
}

type keyCtx struct{}

func withKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, keyCtx{}, key)
}

// idempotencyKeys adds the context's Idempotency-Key to POST requests.
type idempotencyKeys struct{ base http.RoundTripper }

func (t idempotencyKeys) RoundTrip(r *http.Request) (*http.Response, error) {
	if k, _ := r.Context().Value(keyCtx{}).(string); k != "" && r.Method == http.MethodPost {
		r = r.Clone(r.Context())
		r.Header.Set("Idempotency-Key", k)
	}
	return t.base.RoundTrip(r)
}
