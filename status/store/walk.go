package store

import (
	bolt "go.etcd.io/bbolt"
)

// Walk calls fn with every key of the file and its value, in the file's
// order, in one read transaction: the path is the bucket names and the
// key, joined by "/". Two stores that applied the same entries walk alike
// (the determinism tests above the store, and a cluster's nodes, compare
// them); a sequence is not a key, so a bucket's is given as its path and
// "#seq".
func (s *Store) Walk(fn func(path string, value []byte) error) error {
	return s.view(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walkBucket(string(name)+"/", b, fn) })
	})
}

func walkBucket(prefix string, b *bolt.Bucket, fn func(string, []byte) error) error {
	if err := fn(prefix+"#seq", be64(b.Sequence())); err != nil {
		return err
	}
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			return walkBucket(prefix+string(k)+"/", b.Bucket(k), fn)
		}
		return fn(prefix+string(k), v)
	})
}
