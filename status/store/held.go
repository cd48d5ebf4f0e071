package store

import (
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

// Decision releases (sends now) or cancels a held or delayed announcement
// on every destination where it still waits, audited as Actor. A
// destination the dispatcher has claimed meanwhile is left to it.
type Decision struct {
	Seq     uint64 `json:"seq"`
	Release bool   `json:"release"`
	Actor   string `json:"actor"`
}

func applyDecision(tx *bolt.Tx, dec Decision, now time.Time, res *Result) error {
	r, err := getRow(tx, dec.Seq)
	if err != nil {
		return refuseMissing(fmt.Errorf("announcement %d: %w", dec.Seq, err))
	}
	changed := 0
	for _, name := range slices.Sorted(maps.Keys(r.Deliveries)) { // the same on every node
		d := r.Deliveries[name]
		if d.State != Held && !(d.State == Pending && d.NextAt.After(now)) {
			continue
		}
		if dec.Release {
			d.State, d.NextAt = Pending, now
		} else {
			d.State, d.LastError = Cancelled, "cancelled by "+dec.Actor
		}
		d.UpdatedAt = now
		changed++
	}
	if changed == 0 {
		return refuse(fmt.Errorf("announcement %d %w", dec.Seq, ErrNotWaiting))
	}
	if err := putRow(tx, r); err != nil {
		return err
	}
	res.Row, res.Changed = r, changed
	action := map[bool]string{true: "release_announcement", false: "cancel_announcement"}[dec.Release]
	return putAudit(tx, status.AuditEntry{At: now, Actor: dec.Actor, Action: action, Target: strconv.FormatUint(dec.Seq, 10),
		Detail: fmt.Sprintf("%s %s, %d destination(s)", r.Event.Type, r.Event.ID, changed)})
}
