package store

import (
	"bytes"
	"encoding/binary"
	"errors"

	bolt "go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"
)

// blueskyPrefix starts the settings keys of Bluesky sessions: node-local
// (notify.StoredSessions), kept in the data file before schema 4.
var blueskyPrefix = []byte("bluesky/")

// splitLocal moves a schema-3 file's node-local data out of the replicated
// file: first a copy into the local file (one commit there; with move),
// then its deletion here with the schema moved to 4 (one commit). A crash
// between the two leaves the file at 3, and the next Open copies again:
// the copy writes the same keys and values, so it is idempotent. Restore
// drops (move false) what a snapshot from an older node holds: another
// node's raw results are not this one's.
func (s *Store) splitLocal(move bool) error {
	var v uint32
	if err := s.view(func(tx *bolt.Tx) error {
		if raw := tx.Bucket(bucketMeta).Get(keySchema); len(raw) == 4 {
			v = binary.BigEndian.Uint32(raw)
		}
		return nil
	}); err != nil || v != splitSchema {
		return err
	}
	if move {
		// Under the read of the old buckets, so what is copied is what is
		// deleted next (nothing else writes during Open).
		if err := s.view(func(rtx *bolt.Tx) error {
			return onLocal(s.local, LocalPath(s.path), true, func(ltx *bolt.Tx) error { return copyLocal(rtx, ltx) })
		}); err != nil {
			return err
		}
	}
	return s.update(dropLocal)
}

// copyLocal copies the raw results, screenshots and Bluesky sessions of
// the replicated transaction rtx into the local one ltx.
func copyLocal(rtx, ltx *bolt.Tx) error {
	for _, name := range [][]byte{bucketResults, bucketShots} {
		src := rtx.Bucket(name)
		if src == nil {
			continue
		}
		dst := ltx.Bucket(name)
		if err := src.ForEachBucket(func(check []byte) error {
			to, err := dst.CreateBucketIfNotExists(check)
			if err != nil {
				return err
			}
			return src.Bucket(check).ForEach(to.Put)
		}); err != nil {
			return err
		}
	}
	c := rtx.Bucket(bucketSettings).Cursor()
	for k, v := c.Seek(blueskyPrefix); k != nil && bytes.HasPrefix(k, blueskyPrefix); k, v = c.Next() {
		if err := ltx.Bucket(bucketSettings).Put(k, v); err != nil {
			return err
		}
	}
	return nil
}

// dropLocal deletes the node-local data from the replicated file and says
// schema 4.
func dropLocal(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketResults, bucketShots} {
		if err := tx.DeleteBucket(name); err != nil && !errors.Is(err, bolterr.ErrBucketNotFound) {
			return err
		}
	}
	settings := tx.Bucket(bucketSettings)
	var keys [][]byte
	c := settings.Cursor()
	for k, _ := c.Seek(blueskyPrefix); k != nil && bytes.HasPrefix(k, blueskyPrefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := settings.Delete(k); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMeta).Put(keySchema, be32(baseSchema))
}
