package store

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/status/capability"
)

// The per-site keys that sign capability links live in the settings
// bucket, one per key under "sitekey/<id>", so they are in the data file:
// a backup carries them and a replicated log will copy them to every node.
// They are drawn by the node and written as settings; applying draws
// nothing.

const siteKeyPrefix = "sitekey/"

// SiteKeySettings are the settings that store fresh (created only: a key
// id is never written twice) and the keys it rotated out.
func SiteKeySettings(fresh capability.Key, retired ...capability.Key) ([]Setting, error) {
	out := make([]Setting, 0, 1+len(retired))
	for i, k := range append([]capability.Key{fresh}, retired...) {
		v, err := json.Marshal(k)
		if err != nil {
			return nil, fmt.Errorf("site key %s: %w", k.ID, err)
		}
		out = append(out, Setting{Key: siteKeyPrefix + k.ID, Value: string(v), Create: i == 0})
	}
	return out, nil
}

// SiteKeys reads the site's keys (none in a file that has not started a
// node yet).
func (s *Store) SiteKeys() (capability.Keys, error) {
	var keys capability.Keys
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSettings).Cursor()
		prefix := []byte(siteKeyPrefix)
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var key capability.Key
			if err := json.Unmarshal(v, &key); err != nil {
				return fmt.Errorf("site key %s: %w", k, err)
			}
			keys = append(keys, key)
		}
		return nil
	})
	return keys, err
}
