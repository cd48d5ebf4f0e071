package store

import (
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The confirmation counts keep no address (a hash of the mailbox, every
// +tag spelling one key) and go with the prune once their window is over.
func TestMailboxCountsArePrunedAfterTheirWindow(t *testing.T) {
	s, _ := openTemp(t)
	mustApply(t, s, Entry{At: t0, Subscribe: &NewSubscription{Sub: emailSub("em_a", "ann+x@example.com", "t-a", nil, false)}})
	if n, err := s.ConfirmationsSent("Ann@example.com", t0); err != nil || n != 1 {
		t.Fatalf("ann's mailbox: %d sent (%v), want 1", n, err)
	}
	if string(mailboxKey("ann+x@example.com")) != string(mailboxKey("ANN@EXAMPLE.COM")) || string(mailboxKey("ann@example.com")) == string(mailboxKey("bob@example.com")) {
		t.Fatal("mailbox keys: +tag spellings differ, or two mailboxes share one")
	}
	count := func() int {
		n := 0
		s.view(func(tx *bolt.Tx) error { n = tx.Bucket(bucketMailbox).Stats().KeyN; return nil })
		return n
	}
	mustApply(t, s, Entry{At: t0.Add(23 * time.Hour), PruneWebhooks: &PruneWebhooks{Cutoff: t0, Limit: 100, Unconfirmed: t0.Add(-7 * 24 * time.Hour)}})
	if n := count(); n != 1 {
		t.Fatalf("within the window: %d counts kept, want 1", n)
	}
	mustApply(t, s, Entry{At: t0.Add(ConfirmWindow), PruneWebhooks: &PruneWebhooks{Cutoff: t0, Limit: 100, Unconfirmed: t0.Add(-7 * 24 * time.Hour)}})
	if n := count(); n != 0 {
		t.Fatalf("past the window: %d counts kept, want 0", n)
	}
}
