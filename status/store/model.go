package store

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The cluster's model. Every member applies every entry with its own
// model (components, checks, thresholds: status.Fingerprint names it), so
// members whose models differ would turn the same entries into different
// states. The leader writes its model's fingerprint (Entry.Model); an
// entry of inputs stamped with another fingerprint (a member whose config
// differs) is refused alike everywhere, so that member contributes
// nothing until its config is fixed; and a member whose own model differs
// from the one in force does not apply inputs (status/machine waits).

// keyModel holds the fingerprint of the model in force (the leader's).
var keyModel = []byte("model")

// ErrOtherModel refuses inputs written by a member whose model differs
// from the one in force.
var ErrOtherModel = errors.New("written by a member whose checks or components differ from the cluster's")

// Model is the fingerprint of the model in force ("" until a leader wrote
// one: a single node never does).
func (s *Store) Model() (string, error) {
	var m string
	err := s.view(func(tx *bolt.Tx) error {
		m = string(tx.Bucket(bucketMeta).Get(keyModel))
		return nil
	})
	return m, err
}

// refuseOtherModel refuses inputs stamped with a model other than the one
// in force.
func refuseOtherModel(tx *bolt.Tx, in *Inputs) error {
	cur := string(tx.Bucket(bucketMeta).Get(keyModel))
	if !in.OtherModel(cur) {
		return nil
	}
	return &Refusal{Part: "inputs", Err: fmt.Errorf("model %s, the cluster's is %s: %w", in.Model, cur, ErrOtherModel)}
}

func applyModel(tx *bolt.Tx, fingerprint string) error {
	return tx.Bucket(bucketMeta).Put(keyModel, []byte(fingerprint))
}

// OtherModel reports whether in was written under another model than
// current, the one in force: the rule apply refuses by.
func (in *Inputs) OtherModel(current string) bool {
	return in != nil && in.Model != "" && current != "" && in.Model != current
}
