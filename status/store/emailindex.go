package store

import (
	"encoding/json"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Email subscribers are found by address (a form posted again, an
// operator's search) and by their confirmation token's hash (a click on
// the link). Scanning every subscriber for each decoded the whole table
// inside the write transaction of every form post: at 10,000 subscribers
// each post held the one writer (and so the probes' steps) for tens of
// milliseconds. em_index maps both to the subscriber's id, kept in the
// transactions that write and delete the rows.
var bucketEmailIndex = []byte("em_index") // "a\x00" + lower-case address → id; "c\x00" + confirmation hash → id

// Addresses are ASCII (email.CheckAddress), so lower case is the one
// spelling strings.EqualFold compared before.
func addressKey(a string) []byte { return append([]byte("a\x00"), strings.ToLower(a)...) }
func confirmKey(h string) []byte { return append([]byte("c\x00"), h...) }

// indexEmail records sub's address and confirmation hash, and drops
// oldHash (a form posted again: its new link replaces the old one).
func indexEmail(tx *bolt.Tx, oldHash string, sub Subscription) error {
	b := tx.Bucket(bucketEmailIndex)
	if oldHash != "" && oldHash != sub.ConfirmHash {
		if err := b.Delete(confirmKey(oldHash)); err != nil {
			return err
		}
	}
	if err := b.Put(addressKey(sub.Address), []byte(sub.ID)); err != nil {
		return err
	}
	if sub.ConfirmHash == "" {
		return nil
	}
	return b.Put(confirmKey(sub.ConfirmHash), []byte(sub.ID))
}

// unindexEmail removes the keys of the subscriber stored under id, before
// its row is deleted. A row that does not decode has nothing to unindex
// that can be known: its keys stay, and emailBy treats a key whose row is
// gone as no subscriber.
func unindexEmail(tx *bolt.Tx, id string) error {
	v := tx.Bucket(bucketSubs).Get([]byte(id))
	var sub Subscription
	if v == nil || json.Unmarshal(v, &sub) != nil || sub.Kind != KindEmail {
		return nil
	}
	b := tx.Bucket(bucketEmailIndex)
	if err := b.Delete(addressKey(sub.Address)); err != nil {
		return err
	}
	if sub.ConfirmHash == "" {
		return nil
	}
	return b.Delete(confirmKey(sub.ConfirmHash))
}

// emailBy reads the email subscriber the index names under key; nil when
// none does.
func emailBy(tx *bolt.Tx, key []byte) (*Subscription, error) {
	id := tx.Bucket(bucketEmailIndex).Get(key)
	if id == nil {
		return nil, nil
	}
	var sub Subscription
	ok, err := getJSON(tx.Bucket(bucketSubs), id, &sub)
	if err != nil {
		return nil, fmt.Errorf("subscription %s: %w", id, err)
	}
	if !ok || sub.Kind != KindEmail {
		return nil, nil
	}
	return &sub, nil
}

// indexEmailSubscribers builds em_index from the subscribers a file
// written before it holds (schema 2 to 3).
func indexEmailSubscribers(tx *bolt.Tx) error {
	return tx.Bucket(bucketSubs).ForEach(func(k, v []byte) error {
		var sub Subscription
		if err := json.Unmarshal(v, &sub); err != nil {
			return fmt.Errorf("subscription %s: %w", k, err)
		}
		if sub.Kind != KindEmail {
			return nil
		}
		return indexEmail(tx, "", sub)
	})
}
