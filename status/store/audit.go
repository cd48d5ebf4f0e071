package store

import (
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/status"
)

// bucketAudit holds who changed what: be(seq) → AuditEntry JSON.
var bucketAudit = []byte("audit")

func putAudit(tx *bolt.Tx, a status.AuditEntry) error {
	b := tx.Bucket(bucketAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	return putJSON(b, be64(seq), a)
}

// AuditLog returns up to limit entries, newest first, older than before
// (zero: from the newest).
func (s *Store) AuditLog(limit int, before time.Time) ([]status.AuditEntry, error) {
	var out []status.AuditEntry
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			var a status.AuditEntry
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			if before.IsZero() || a.At.Before(before) {
				out = append(out, a)
			}
		}
		return nil
	})
	return out, err
}
