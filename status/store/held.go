package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/status"
)

// ErrNotWaiting is a release or cancellation of an announcement that
// waits on no destination (sent, cancelled, or being sent).
var ErrNotWaiting = errors.New("is not waiting on any destination")

// Decide releases (sends now) or cancels a held or delayed announcement on
// every destination where it still waits, and audits it as actor, in one
// transaction: all of it or none, and a destination the dispatcher has
// claimed meanwhile is left to it. It returns the row as decided and how
// many destinations changed.
func (s *Store) Decide(seq uint64, release bool, actor string, now time.Time) (OutboxRow, int, error) {
	var r OutboxRow
	changed := 0
	err := s.update(func(tx *bolt.Tx) error {
		changed = 0
		b := tx.Bucket(bucketOutbox)
		v := b.Get(be64(seq))
		if v == nil {
			return fmt.Errorf("announcement %d: %w", seq, ErrNotFound)
		}
		r = OutboxRow{}
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("outbox row %d: %w", seq, err)
		}
		for _, name := range slices.Sorted(maps.Keys(r.Deliveries)) { // the same on every node
			d := r.Deliveries[name]
			if d.State != Held && !(d.State == Pending && d.NextAt.After(now)) {
				continue
			}
			if release {
				d.State, d.NextAt = Pending, now
			} else {
				d.State, d.LastError = Cancelled, "cancelled by "+actor
			}
			d.UpdatedAt = now
			changed++
		}
		if changed == 0 {
			return fmt.Errorf("announcement %d %w", seq, ErrNotWaiting)
		}
		if err := putJSON(b, be64(seq), r); err != nil {
			return err
		}
		if r.Done() {
			if err := tx.Bucket(bucketOutboxOpen).Delete(be64(seq)); err != nil {
				return err
			}
		}
		action := map[bool]string{true: "release_announcement", false: "cancel_announcement"}[release]
		return putAudit(tx, status.AuditEntry{At: now, Actor: actor, Action: action, Target: strconv.FormatUint(seq, 10),
			Detail: fmt.Sprintf("%s %s, %d destination(s)", r.Event.Type, r.Event.ID, changed)})
	})
	return r, changed, err
}
