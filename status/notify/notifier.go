// Package notify delivers outbox rows to channels: Mastodon, Slack,
// Discord, PagerDuty. The Dispatcher marks each delivery "sending" durably
// before the request and records the outcome after it, outside any store
// transaction; a channel's worker never waits on another channel.
package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/outpost-status/outpost/status"
)

// Message is one delivery, ready for a channel.
type Message struct {
	// Key is stable for one row and one destination: an idempotency key.
	Key string
	// Seq is the outbox row's sequence (Bluesky derives its record key).
	Seq   uint64
	Event status.Event
	// Text is the rendered message for this channel's audience.
	Text string
	// Title is a short headline (the incident's name, or the event).
	Title string
	// URL is the incident page (or the status page).
	URL string
	// ReplyTo is the remote id of the incident's first post on this
	// channel, so updates thread under it ("" for the first post).
	ReplyTo string
	// Operators is true for operators' channels: Event.Private may be shown.
	Operators bool
	// Test marks `outpost notify test` messages.
	Test bool
}

// Notifier sends messages to one channel.
type Notifier interface {
	// Send delivers m and returns the remote id of what it created. Errors
	// are retried unless Permanent.
	Send(ctx context.Context, m Message) (remoteID string, err error)
	// Idempotent reports whether sending the same Key twice creates at
	// most one post. Ambiguous sends (the process died mid-request) are
	// re-sent only on idempotent channels; others stay at-most-once.
	Idempotent() bool
}

// Inerter is a notifier whose network reads markup in plain text (a
// mention notifies its account): Inert makes the text harmless before it
// is fitted, since operators' texts carry what probed systems sent.
type Inerter interface {
	Inert(text string) string
}

// mentionRe finds the start of an @mention.
var mentionRe = regexp.MustCompile(`@([\p{L}\p{N}_])`)

// noMentions puts a zero-width space after each @ that starts a mention,
// so Mastodon and X link and notify no one.
func noMentions(s string) string { return mentionRe.ReplaceAllString(s, "@\u200b$1") }

// Finder is an idempotent notifier whose service forgets keys after
// KeyWindow (Mastodon: one hour). Once the first attempt of a row is older
// than that, a re-send with the same key could post twice, so the
// dispatcher first asks Find whether an earlier attempt made the post.
type Finder interface {
	KeyWindow() time.Duration
	// Find returns the remote id of a post made for m since since, or "".
	Find(ctx context.Context, m Message, since time.Time) (string, error)
}

// PermanentError is a failure retrying cannot fix (bad credentials, a
// rejected message, a 4xx).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// RetryAfterError asks to wait before the next attempt (429 Retry-After).
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// IsPermanent reports a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// ClassifyHTTP classifies an HTTP answer: 2xx nil, 429 and 5xx retryable
// (honouring Retry-After), 408 retryable, other 4xx permanent.
func ClassifyHTTP(resp *http.Response, what string) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err := fmt.Errorf("%s: HTTP %s", what, resp.Status)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return &RetryAfterError{Err: err, After: retryAfter(resp.Header.Get("Retry-After"))}
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusRequestTimeout:
		return err
	}
	return &PermanentError{Err: err}
}

func retryAfter(v string) time.Duration {
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
