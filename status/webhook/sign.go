// Package webhook owns what subscriber webhooks need on the wire: Standard
// Webhooks signatures (https://www.standardwebhooks.com) and an HTTP client
// that cannot be pointed at private or metadata addresses.
//
// It is the foundation of issue #8; the subscription store, verification
// handshake and delivery worker build on it.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix marks a signing secret, as in the specification and Svix.
const SecretPrefix = "whsec_"

// Header names of the specification.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far a receiver lets a timestamp drift before it
// treats the delivery as a replay; the specification suggests five minutes.
const DefaultTolerance = 5 * time.Minute

// Errors a receiver sees from Verify.
var (
	ErrMissingHeader = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature")
	ErrStale         = errors.New("webhook: timestamp outside the tolerance")
	ErrNoMatch       = errors.New("webhook: no signature matches")
)

// NewSecret returns a fresh signing secret: the prefix and the base64 of 32
// random bytes.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new webhook secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

func key(secret string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(k) == 0 {
		return nil, fmt.Errorf("webhook secret is not %s followed by base64", SecretPrefix)
	}
	return k, nil
}

func mac(k []byte, id string, ts int64, body []byte) []byte {
	h := hmac.New(sha256.New, k)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, ts, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Sign returns the webhook-signature value for one attempt. With several
// secrets (the overlap after a rotation) it returns one space-separated
// "v1,..." entry per secret, so receivers holding either secret accept it.
func Sign(id string, at time.Time, body []byte, secrets ...string) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("webhook: sign needs at least one secret")
	}
	parts := make([]string, 0, len(secrets))
	for _, s := range secrets {
		k, err := key(s)
		if err != nil {
			return "", err
		}
		parts = append(parts, "v1,"+base64.StdEncoding.EncodeToString(mac(k, id, at.Unix(), body)))
	}
	return strings.Join(parts, " "), nil
}

// SetHeaders signs body for an attempt made at time at and sets the three
// headers on h. The id stays the same across retries; the timestamp does not,
// which is why every retry is signed again.
func SetHeaders(h http.Header, id string, at time.Time, body []byte, secrets ...string) error {
	sig, err := Sign(id, at, body, secrets...)
	if err != nil {
		return err
	}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return nil
}

// Verify is the receiver's side, as docs/webhooks.md describes it: the
// timestamp must be within tolerance of now and one of the signatures must
// match the secret. It returns the webhook-id for de-duplication.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) (string, error) {
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return "", ErrMissingHeader
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return "", fmt.Errorf("webhook: timestamp %q: %w", tsText, err)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return "", ErrStale
	}
	k, err := key(secret)
	if err != nil {
		return "", err
	}
	want := mac(k, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		v, b64, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return id, nil
		}
	}
	return "", ErrNoMatch
}
