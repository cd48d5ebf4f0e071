package store

import (
	bolt "go.etcd.io/bbolt"
)

// Contents reads every key of the file with its value, in one read
// transaction, by path: the bucket names and the key joined by "/"; a
// bucket's sequence, which is no key, is under its path and "#seq". Two
// stores that applied the same entries hold the same contents (the
// determinism tests above the store compare them, and a cluster's nodes
// can). It holds the whole file in memory: for tests and diagnosis.
func (s *Store) Contents() (map[string]string, error) {
	out := map[string]string{}
	err := s.view(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			contents(string(name)+"/", b, out)
			return nil
		})
	})
	return out, err
}

func contents(prefix string, b *bolt.Bucket, out map[string]string) {
	out[prefix+"#seq"] = string(be64(b.Sequence()))
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			contents(prefix+string(k)+"/", b.Bucket(k), out)
			continue
		}
		out[prefix+string(k)] = string(v)
	}
}
