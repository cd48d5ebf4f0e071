package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// Heartbeat tokens are random (128 bits), shown once, and kept only as
// SHA-256 hashes in the settings bucket under "heartbeat/<check>".

// HashToken is the stored form of a token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewHeartbeatToken issues a token for check, replacing any previous one,
// and returns it (the only time it is seen).
func (s *Store) NewHeartbeatToken(check string) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	return token, s.SetSetting("heartbeat/"+check, HashToken(token))
}

// HeartbeatHash returns a check's stored token hash ("" when none).
func (s *Store) HeartbeatHash(check string) string { return s.Setting("heartbeat/" + check) }
