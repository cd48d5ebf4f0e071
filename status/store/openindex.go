package store

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Each subscriber kind has an open index of its own: the deliveries not
// yet finished, in sequence order, with what the kind's loop decides on.
// With one index for both, the webhook loop walked every open mail (10,000
// after an incident) on each round only to skip them. Webhooks keep
// wh_open, so files written before kinds open unchanged; mails live in
// em_open (none were written into wh_open by a released version).
var (
	bucketWHOpen    = []byte("wh_open") // be(seq) → be(next attempt, unix nanos) + subscription id [+ "\x00" + incident id]
	bucketEmailOpen = []byte("em_open") // the same, for email deliveries
)

// openBucket is kind's open index.
func openBucket(kind SubKind) []byte {
	if kind == KindEmail {
		return bucketEmailOpen
	}
	return bucketWHOpen
}

// indexOpen puts d in its kind's open index while it is open and takes it
// out once finished. What the delivery loop decides on (when, for whom,
// about which incident) sits in the index, so a scan past deliveries that
// must wait (a busy key, a later retry) decodes nothing.
func indexOpen(tx *bolt.Tx, d *WebhookDelivery) error {
	b := tx.Bucket(openBucket(d.Kind))
	if !d.State.Open() {
		return b.Delete(be64(d.Seq))
	}
	v := append(timeKey(d.NextAt), d.Sub...)
	if d.Incident != "" {
		v = append(append(v, 0), d.Incident...)
	}
	return b.Put(be64(d.Seq), v)
}

// OpenRef is one open delivery as the open index holds it: what the
// delivery loop decides on (when, for whom, about which incident) without
// decoding the delivery.
type OpenRef struct {
	Seq      uint64
	At       time.Time // next attempt
	Sub      string
	Incident string
}

// OpenDeliveries returns up to limit of kind's open deliveries with a
// sequence above after, oldest first, due or not. The caller decides
// which to take outside any transaction (nothing of another package runs
// inside one) and reads those with DeliveryJobs; it pages on with the
// last Seq.
func (s *Store) OpenDeliveries(kind SubKind, after uint64, limit int) ([]OpenRef, error) {
	var refs []OpenRef
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(openBucket(kind)).Cursor()
		k, v := c.Seek(be64(after + 1))
		for ; k != nil && len(refs) < limit; k, v = c.Next() {
			r, err := openRef(k, v)
			if err != nil {
				return err
			}
			refs = append(refs, r)
		}
		return nil
	})
	return refs, err
}

func openRef(k, v []byte) (OpenRef, error) {
	if len(k) != 8 || len(v) < 8 {
		return OpenRef{}, fmt.Errorf("open delivery index entry %x: %d bytes", k, len(v))
	}
	sub, incident, _ := strings.Cut(string(v[8:]), "\x00")
	return OpenRef{Seq: binary.BigEndian.Uint64(k), At: keyTime(v[:8]), Sub: sub, Incident: incident}, nil
}

// openStats counts kind's open deliveries and reads when the oldest was
// created.
func openStats(tx *bolt.Tx, kind SubKind, st *WebhookStats) error {
	c := tx.Bucket(openBucket(kind)).Cursor()
	k, _ := c.First()
	if k == nil {
		return nil
	}
	var d WebhookDelivery // sequence order: the first is the oldest
	if _, err := getJSON(tx.Bucket(bucketWHDelivery), k, &d); err != nil {
		return fmt.Errorf("webhook delivery %x: %w", k, err)
	}
	st.OldestOpen = d.CreatedAt
	st.Open = tx.Bucket(openBucket(kind)).Stats().KeyN
	return nil
}
