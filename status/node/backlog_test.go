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

// With email on, "@email" counts the mails fanned out but not yet sent.
func TestBacklogCountsEmailDeliveries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outpost.db")
	subscribeConfirmed(t, path, map[string][]string{"ann": nil, "bob": nil})
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	ev := status.Event{ID: "evt-1", Type: status.IncidentCreated, At: now, Incident: &status.Incident{ID: "inc-1"}}
	if _, err := st.Apply(store.Entry{At: now, Announce: []store.Announcement{{Event: ev, Dests: []store.Dest{{Name: store.EmailDest}}}}}); err != nil {
		t.Fatal(err)
	}
	due, _, err := st.DueForFanout(store.EmailDest, 1, now)
	if err != nil || len(due) != 1 {
		t.Fatalf("due: %d rows (%v)", len(due), err)
	}
	res, err := st.Apply(store.Entry{At: now, Fanout: []store.FannedRow{{Seq: due[0].Seq, Dest: store.EmailDest, Subs: []string{"em_ann", "em_bob"}}}})
	if created := res.Created; err != nil || created != 2 {
		t.Fatalf("expand: %d %v", created, err)
	}
	if depth, err := backlog(st, false, true)(); err != nil || depth[store.EmailDest].Pending != 2 {
		t.Fatalf("backlog with email = %+v (%v), want the 2 mails", depth, err)
	}
	if depth, _ := backlog(st, false, false)(); depth[store.EmailDest].Pending != 0 {
		t.Fatalf("backlog without email = %+v, want none at @email", depth)
	}
}
