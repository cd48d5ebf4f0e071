package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// At most MaxConfirmations confirmation mails go to one mailbox in
// ConfirmWindow, so Outpost cannot be used to flood someone's inbox. The
// count is per mailbox, not per spelling: most providers deliver
// ann+anything@ to ann@ (subaddressing, RFC 5233), so every tagged
// spelling counts against ann@. It is kept by the Subscribe entry on its
// own time (it survives a restart, and a cluster keeps one count), under
// a SHA-256 of the mailbox rather than the address, apart from the
// subscriber rows: an erasure (which needs a link from a mail already
// sent) does not start the count again, and the file keeps no address
// for it. Counts older than the window are pruned with the unconfirmed
// subscribers.
const (
	MaxConfirmations = 3
	ConfirmWindow    = 24 * time.Hour
)

var bucketMailbox = []byte("em_mailbox") // sha256(mailbox) → JSON times of confirmation mails within ConfirmWindow

// mailboxKey is the hash of addr's mailbox: lower case (addresses are
// ASCII), the local part's "+tag" dropped.
func mailboxKey(addr string) []byte {
	addr = strings.ToLower(addr)
	if at := strings.LastIndexByte(addr, '@'); at > 0 {
		if plus := strings.IndexByte(addr[:at], '+'); plus > 0 {
			addr = addr[:plus] + addr[at:]
		}
	}
	sum := sha256.Sum256([]byte(addr))
	return []byte(hex.EncodeToString(sum[:]))
}

// mailboxSent is the times of the confirmation mails to addr's mailbox
// within ConfirmWindow before now.
func mailboxSent(tx *bolt.Tx, addr string, now time.Time) ([]time.Time, error) {
	var all []time.Time
	if _, err := getJSON(tx.Bucket(bucketMailbox), mailboxKey(addr), &all); err != nil {
		return nil, fmt.Errorf("confirmation count: %w", err)
	}
	return recentOf(all, now), nil
}

func recentOf(all []time.Time, now time.Time) []time.Time {
	var recent []time.Time
	for _, t := range all {
		if now.Sub(t) < ConfirmWindow {
			recent = append(recent, t)
		}
	}
	return recent
}

// ConfirmationsSent is how many confirmation mails addr's mailbox got in
// ConfirmWindow before now (the subscribe service decides from it without
// a write; the Subscribe entry checks again).
func (s *Store) ConfirmationsSent(addr string, now time.Time) (int, error) {
	var n int
	err := s.view(func(tx *bolt.Tx) error {
		recent, err := mailboxSent(tx, addr, now)
		n = len(recent)
		return err
	})
	return n, err
}

// pruneMailboxes deletes the counts with no mail within ConfirmWindow
// before now.
func pruneMailboxes(tx *bolt.Tx, now time.Time) error {
	b := tx.Bucket(bucketMailbox)
	var old [][]byte
	if err := b.ForEach(func(k, v []byte) error {
		var all []time.Time
		if err := json.Unmarshal(v, &all); err != nil {
			return fmt.Errorf("confirmation count %s: %w", k, err)
		}
		if len(recentOf(all, now)) == 0 {
			old = append(old, k)
		}
		return nil
	}); err != nil {
		return err
	}
	return deleteKeys(b, old)
}
