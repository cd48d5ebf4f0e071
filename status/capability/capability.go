// Package capability makes and checks capability links: URLs whose path
// token alone authorises one thing (managing or leaving a subscription)
// for one subscriber. Subscriber tokens are stored only as hashes, so a
// link built when a message is sent cannot carry the stored token; it
// carries an HMAC instead, made with the per-site secret key kept in the
// data file. Verifying needs no read of the subscriber: the token names
// the key, the subscriber, the purpose and the expiry, and the MAC covers
// them all.
package capability

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Purpose is what a link allows. A token made for one purpose never
// verifies for another, so a manage link cannot be replayed as a one-click
// unsubscribe, nor the reverse.
type Purpose string

// The purposes. A confirmation link is not a capability: it is a random
// single-use token stored hashed, because it must stop working once used.
const (
	Manage      Purpose = "manage"
	Unsubscribe Purpose = "unsubscribe"
)

// codes are the purposes as they are written in a token (one byte).
var codes = map[Purpose]byte{Manage: 'm', Unsubscribe: 'u'}

// Errors Verify returns; test with errors.Is. A forged or altered token is
// ErrBadSignature before anything else in it is believed.
var (
	ErrMalformed    = errors.New("capability link is malformed")
	ErrBadSignature = errors.New("capability link signature does not verify")
	ErrWrongPurpose = errors.New("capability link is for another purpose")
	ErrExpired      = errors.New("capability link has expired")
)

const (
	version     = 1
	macSize     = sha256.Size
	minSecret   = 32
	maxID       = 200 // a subscriber id; ours are short, this bounds a token
	maxKeyID    = 16
	headerSize  = 1 + 1 + 8 + 1 // version, purpose, expiry, key id length
	maxTokenLen = 4 * (headerSize + maxKeyID + maxID + macSize) / 3
)

// domain separates these MACs from any other use of the site key.
var domain = []byte("outpost capability v1\x00")

// Sign makes a token for subscriberID and purpose with key, valid until
// expiry (zero: no expiry, as for an unsubscribe link that must work in
// any mail ever sent while the key lives). The token is base64url without
// padding, safe in a URL path segment.
func Sign(key Key, subscriberID string, purpose Purpose, expiry time.Time) (string, error) {
	code, ok := codes[purpose]
	switch {
	case !ok:
		return "", fmt.Errorf("capability: unknown purpose %q", purpose)
	case subscriberID == "" || len(subscriberID) > maxID:
		return "", fmt.Errorf("capability: subscriber id must be 1 to %d bytes", maxID)
	case len(key.Secret) < minSecret:
		return "", fmt.Errorf("capability: key %q has a secret shorter than %d bytes", key.ID, minSecret)
	case key.ID == "" || len(key.ID) > maxKeyID:
		return "", fmt.Errorf("capability: key id must be 1 to %d bytes", maxKeyID)
	}
	var exp uint64
	if !expiry.IsZero() {
		exp = uint64(max(expiry.Unix(), 1))
	}
	msg := make([]byte, 0, headerSize+len(key.ID)+len(subscriberID)+macSize)
	msg = append(msg, version, code)
	msg = binary.BigEndian.AppendUint64(msg, exp)
	msg = append(msg, byte(len(key.ID)))
	msg = append(msg, key.ID...)
	msg = append(msg, subscriberID...)
	msg = append(msg, mac(key.Secret, msg)...)
	return base64.RawURLEncoding.EncodeToString(msg), nil
}

// Verify checks token for purpose at now against keys and returns the
// subscriber it names. The MAC is compared in constant time; a token
// signed with a key that is unknown or retired (past its Until) does not
// verify.
func Verify(keys Keys, token string, purpose Purpose, now time.Time) (string, error) {
	want, ok := codes[purpose]
	if !ok {
		return "", fmt.Errorf("capability: unknown purpose %q", purpose)
	}
	// Go's base64 decoder skips CR and LF even in strict mode, so a token
	// with a line break inside would verify as a second spelling of it.
	if len(token) > maxTokenLen+4 || strings.ContainsAny(token, "\r\n") {
		return "", ErrMalformed
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token) // one spelling per token
	if err != nil || len(raw) < headerSize+1+1+macSize || raw[0] != version {
		return "", ErrMalformed
	}
	kl := int(raw[headerSize-1])
	if kl == 0 || kl > maxKeyID || len(raw) < headerSize+kl+1+macSize {
		return "", ErrMalformed
	}
	body, sum := raw[:len(raw)-macSize], raw[len(raw)-macSize:]
	keyID := string(body[headerSize : headerSize+kl])
	key, ok := keys.find(keyID)
	if !ok || (!key.Until.IsZero() && !now.Before(key.Until)) {
		return "", fmt.Errorf("%w: key %q is unknown or retired", ErrBadSignature, keyID)
	}
	if !hmac.Equal(mac(key.Secret, body), sum) {
		return "", ErrBadSignature
	}
	if body[1] != want {
		return "", ErrWrongPurpose
	}
	if exp := binary.BigEndian.Uint64(body[2:10]); exp != 0 && now.Unix() >= int64(exp) {
		return "", ErrExpired
	}
	return string(body[headerSize+kl:]), nil
}

func mac(secret, msg []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(domain)
	h.Write(msg)
	return h.Sum(nil)
}
