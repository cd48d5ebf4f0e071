package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Refusal is an entry refused by what it says and the state it meets: a
// Decide on an announcement decided already, a Confirm after the link's
// expiry, a create-only setting made twice. Every applier of the same
// entries meets the same state, so every one refuses it the same way, and
// a replicated log passes it (the applied index moves on, the refusal is
// recorded) rather than stopping on it. Whatever else fails in apply (the
// disk, a record that does not decode, a value this version does not
// know) is no refusal: the applier stops and retries from its last
// applied index.
type Refusal struct {
	Part string // the entry's part that refused ("decide", "settings", …; "entry" for the entry itself)
	Err  error
}

func (r *Refusal) Error() string { return r.Err.Error() }

// Unwrap lets errors.Is match the sentinel callers test (ErrNotWaiting, …).
func (r *Refusal) Unwrap() error { return r.Err }

// refuse marks err, found by a part, as a deterministic refusal.
func refuse(err error) error { return &Refusal{Err: err} }

// refuseMissing refuses an entry naming a record the file does not hold;
// any other error (a record that does not decode) stays a failure.
func refuseMissing(err error) error {
	if errors.Is(err, ErrNotFound) {
		return refuse(err)
	}
	return err
}

// named gives a part's refusal the part's name, so the record says which
// part refused; an error that is no refusal passes unchanged.
func named(part string, err error) error {
	var r *Refusal
	if !errors.As(err, &r) {
		return err
	}
	if top, ok := err.(*Refusal); ok { // not nested in a second one
		err = top.Err
	}
	return &Refusal{Part: part, Err: err}
}

// Refused is the record of one refused replicated entry.
type Refused struct {
	Index   uint64    `json:"index"`
	At      time.Time `json:"at"`
	Part    string    `json:"part"`
	Message string    `json:"message"`
}

// bucketRefusals: be(entry index) → Refused JSON, the last maxRefusals.
var bucketRefusals = []byte("refusals")

// maxRefusals bounds the record: a writer refused again and again (a
// stale node's retries) must not grow the file.
const maxRefusals = 64

// maxRefusalMessage bounds one record's message, in bytes.
const maxRefusalMessage = 256

// recordRefusal passes a refused replicated entry: the applied index moves
// to it and the refusal joins the record, in a transaction of its own
// after the entry's was undone. A replayed one (at or below the applied
// index) was recorded when first met.
func recordRefusal(tx *bolt.Tx, e Entry, r *Refusal, msg string) error {
	if e.Index <= appliedIndex(tx) {
		return nil
	}
	if err := tx.Bucket(bucketMeta).Put(keyApplied, be64(e.Index)); err != nil {
		return err
	}
	if len(msg) > maxRefusalMessage {
		msg = strings.ToValidUTF8(msg[:maxRefusalMessage], "")
	}
	b := tx.Bucket(bucketRefusals)
	if err := putJSON(b, be64(e.Index), Refused{Index: e.Index, At: e.At, Part: r.Part, Message: msg}); err != nil {
		return err
	}
	var keys [][]byte // indexes: the first are the oldest
	if err := b.ForEach(func(k, _ []byte) error { keys = append(keys, bytes.Clone(k)); return nil }); err != nil {
		return err
	}
	for _, k := range keys[:max(0, len(keys)-maxRefusals)] {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Refusals lists the recorded refusals of replicated entries, oldest
// first.
func (s *Store) Refusals() ([]Refused, error) {
	var out []Refused
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRefusals).ForEach(func(k, v []byte) error {
			var r Refused
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("refusal %x: %w", k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}
