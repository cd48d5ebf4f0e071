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

// NewHeartbeatToken makes a token for check and the setting that keeps
// its hash, replacing any previous one once applied. The token is returned
// only here, the one time it is seen.
func NewHeartbeatToken(check string) (string, Setting, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", Setting{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	return token, Setting{Key: heartbeatKey(check), Value: HashToken(token)}, nil
}

func heartbeatKey(check string) string { return "heartbeat/" + check }

// HeartbeatHash returns a check's stored token hash ("" when none).
func (s *Store) HeartbeatHash(check string) (string, error) { return s.Setting(heartbeatKey(check)) }
