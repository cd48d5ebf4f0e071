package node

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

func TestBacklogCountsWebhookDeliveries(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "outpost.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	for _, id := range []string{"sub_a", "sub_b"} {
		if _, err := st.Apply(store.Entry{At: now, Subscribe: &store.NewSubscription{Sub: store.Subscription{ID: id, State: store.SubActive, Client: id}, Verify: store.WebhookDelivery{State: store.Sent}, PerClient: 5}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"evt-1", "evt-2"} {
		if _, err := st.Apply(store.Entry{At: now, Announce: []store.Announcement{{Event: status.Event{ID: id}, Dests: []store.Dest{{Name: store.WebhooksDest}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	// evt-1 becomes two deliveries; evt-2 waits to be expanded.
	due, _, err := st.DueForFanout(store.WebhooksDest, 1, now)
	if err != nil || len(due) != 1 {
		t.Fatalf("due: %d rows (%v)", len(due), err)
	}
	res, err := st.Apply(store.Entry{At: now, Fanout: []store.FannedRow{{Seq: due[0].Seq, Body: []byte(`{}`), Subs: []string{"sub_a", "sub_b"}}}})
	if created := res.Created; err != nil || created != 2 {
		t.Fatalf("expand: %d %v", created, err)
	}
	depth, err := backlog(st, true, false)()
	if err != nil || depth[store.WebhooksDest].Pending != 3 {
		t.Fatalf("backlog with webhooks = %+v (%v), want 3 (2 deliveries + 1 event)", depth, err)
	}
	if depth, _ := backlog(st, false, false)(); depth[store.WebhooksDest].Pending != 1 {
		t.Fatalf("outbox alone = %+v, want 1", depth)
	}
}
