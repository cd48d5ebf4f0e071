package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A file written at schema 2 (email subscribers, no em_index) opens with
// its subscribers found by address and by their link's hash, and a form
// posted again for one of them finds it instead of adding a second row.
func TestEmailIndexBuiltForOlderFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "outpost.db")
	s, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, Entry{At: t0, Subscribe: &NewSubscription{Sub: emailSub("em_a", "Ann@Example.com", "t-a", nil, false)}})
	s.Close()
	db, err := bolt.Open(p, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketEmailIndex); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, be32(2))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err = Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if sub, err := s.EmailSubscriber("ann@example.COM"); err != nil || sub.ID != "em_a" {
		t.Fatalf("by address: %+v %v", sub, err)
	}
	if sub, err := s.SubscriberByConfirmHash(HashToken("t-a")); err != nil || sub.ID != "em_a" {
		t.Fatalf("by the link's hash: %+v %v", sub, err)
	}
	again := emailSub("em_b", "ann@example.com", "t-a2", nil, true)
	mustApply(t, s, Entry{At: t0.Add(time.Hour), Subscribe: &NewSubscription{Sub: again}})
	if _, err := s.Subscription("em_b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a second row for one address: %v", err)
	}
	if _, err := s.SubscriberByConfirmHash(HashToken("t-a")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the replaced link still finds the subscriber: %v", err)
	}
	mustApply(t, s, Entry{At: t0.Add(time.Hour), Confirm: &Confirmation{TokenHash: HashToken("t-a2")}})
	mustApply(t, s, Entry{At: t0.Add(time.Hour), Subscription: &SubscriptionChange{ID: "em_a", Erase: true}})
	if _, err := s.EmailSubscriber("ann@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after erasure, by address: %v", err)
	}
	if _, err := s.SubscriberByConfirmHash(HashToken("t-a2")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after erasure, by the link's hash: %v", err)
	}
}

// BenchmarkSubscribeEmail is one form post's entry (a new address, a
// pending row) with 2,000 email subscribers stored (before em_index each post decoded every one of them, so its cost grew with the table): the one writer is
// held for this long per post.
//
//	go test ./status/store -run '^$' -bench SubscribeEmail -benchmem -count 6
func BenchmarkSubscribeEmail(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const subs = 2_000
	for i := range subs {
		sub := emailSub(fmt.Sprintf("em_%05d", i), fmt.Sprintf("r%d@d%d.example", i, i%100), fmt.Sprintf("t-%d", i), nil, false)
		mustApply(b, s, Entry{At: t0, Subscribe: &NewSubscription{Sub: sub}})
	}
	b.ResetTimer()
	for i := range b.N {
		sub := emailSub(fmt.Sprintf("em_n%07d", i), fmt.Sprintf("new%d@d%d.example", i, i%100), fmt.Sprintf("tn-%d", i), nil, false)
		mustApply(b, s, Entry{At: t0, Subscribe: &NewSubscription{Sub: sub}})
	}
}
