package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
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

// In a cluster a beat is a replicated setting too, "beat/<check>": the
// last one sent to any member, its time (unix nanoseconds, the receiving
// member's clock) and whether it reported a failure, so that every member
// judges the check from the same beats.

func beatKey(check string) string { return "beat/" + check }

// BeatSetting is the setting that records a beat of check at at.
func BeatSetting(check string, at time.Time, failed bool) Setting {
	v := strconv.FormatInt(at.UnixNano(), 10)
	if failed {
		v += " failed"
	}
	return Setting{Key: beatKey(check), Value: v}
}

// LastBeat reads check's last replicated beat; ok is false when none.
func (s *Store) LastBeat(check string) (at time.Time, failed, ok bool, err error) {
	v, err := s.Setting(beatKey(check))
	if err != nil || v == "" {
		return time.Time{}, false, false, err
	}
	num, flag, _ := strings.Cut(v, " ")
	ns, perr := strconv.ParseInt(num, 10, 64)
	if perr != nil {
		return time.Time{}, false, false, fmt.Errorf("beat of %s: %w", check, perr)
	}
	return time.Unix(0, ns).UTC(), flag == "failed", true, nil
}
