package store

import (
	"errors"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
)

func TestExpandWebhooksOnceAndPrune(t *testing.T) {
	s, _ := openTemp(t)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, id := range []string{"sub_a", "sub_b", "sub_pending"} {
		sub := Subscription{ID: id, URL: "https://hooks.example.com/" + id, State: SubActive, Client: "c-" + id, CreatedAt: now}
		if id == "sub_pending" {
			sub.State = SubPending
		}
		if err := subscribe(s, sub, WebhookDelivery{Type: "subscription.verify", State: Sent, CreatedAt: now}, 5); err != nil {
			t.Fatal(err)
		}
	}
	ev := status.Event{ID: "evt-1", Type: status.IncidentCreated, Incident: &status.Incident{ID: "inc-1"}}
	announce(t, s, ev, []Dest{{Name: WebhooksDest}, {Name: "mastodon"}}, now)
	// A delayed announcement (publish.mode: delay) waits.
	announce(t, s, status.Event{ID: "evt-2", Type: status.IncidentUpdated}, []Dest{{Name: WebhooksDest, Delay: time.Minute}}, now)
	var offered []string
	fan := func(ev status.Event, subs []Subscription) ([]byte, []string, error) {
		var to []string
		for _, x := range subs {
			offered = append(offered, x.ID)
			to = append(to, x.ID)
		}
		return []byte(`{"type":"` + string(ev.Type) + `"}`), to, nil
	}
	rows, created, err := expand(s, 10, fan, now)
	if err != nil || rows != 1 || created != 2 {
		t.Fatalf("expand: rows %d created %d err %v; want 1 and 2", rows, created, err)
	}
	if len(offered) != 2 {
		t.Fatalf("offered to %v; only active subscriptions take events", offered)
	}
	if rows, created, _ := expand(s, 10, fan, now); rows != 0 || created != 0 {
		t.Fatalf("second expand: rows %d created %d; an event must expand once", rows, created)
	}
	row, _ := s.OutboxRow(1)
	if row.Deliveries[WebhooksDest].State != Sent || row.Deliveries["mastodon"].State != Pending {
		t.Fatalf("outbox row after expand: %+v %+v", row.Deliveries[WebhooksDest], row.Deliveries["mastodon"])
	}
	refs, err := s.OpenDeliveries(KindWebhook, 0, 10)
	var seqs []uint64
	for _, r := range refs {
		if !r.At.After(now) {
			seqs = append(seqs, r.Seq)
		}
	}
	jobs, err2 := s.DeliveryJobs(seqs)
	if err != nil || err2 != nil || len(jobs) != 2 {
		t.Fatalf("open: %d %v %v %+v", len(jobs), err, err2, jobs)
	}
	last := jobs[len(jobs)-2:]
	if string(last[0].Body) != `{"type":"incident.created"}` || last[0].Delivery.MessageID != "evt-1" || last[1].Sub.ID != "sub_b" {
		t.Fatalf("the event's deliveries: %+v", last)
	}
	// Paging on from a sequence reads only what follows it; a delivery no
	// longer open is left out of the jobs.
	if more, _ := s.OpenDeliveries(KindWebhook, refs[len(refs)-2].Seq, 10); len(more) != 1 || more[0].Seq != refs[len(refs)-1].Seq {
		t.Fatalf("paging after %d: %+v", refs[len(refs)-2].Seq, more)
	}
	done := last[0].Delivery.Seq
	if _, err := s.Apply(Entry{At: now, Outcomes: &WebhookOutcomes{List: []WebhookOutcome{{Seq: done, At: now, Status: 200}}}}); err != nil {
		t.Fatal(err)
	}
	if jobs, _ := s.DeliveryJobs([]uint64{done, last[1].Delivery.Seq}); len(jobs) != 1 || jobs[0].Delivery.Seq == done {
		t.Fatalf("jobs after %d was delivered: %+v", done, jobs)
	}
	if _, created, _ := expand(s, 10, fan, now.Add(time.Minute)); created != 2 {
		t.Fatalf("the delayed event after its delay: created %d", created)
	}

	// Pruning removes deliveries and bodies older than the cutoff.
	res, err := s.Apply(Entry{At: now, PruneWebhooks: &PruneWebhooks{Cutoff: now.Add(time.Second), Limit: 100}})
	n := res.Deleted
	if err != nil || n != 5 { // 3 challenges + 2 deliveries of evt-1, created at now
		t.Fatalf("pruned %d (%v), want 5", n, err)
	}
	if l, _ := s.WebhookLog("sub_a", 10); len(l) != 1 || l[0].MessageID != "evt-2" {
		t.Fatalf("log after pruning: %+v", l)
	}
}

// An event whose body cannot be built fails on its own; the ones behind it
// still go out.
func TestExpandWebhooksSkipsABadEvent(t *testing.T) {
	s, _ := openTemp(t)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	if err := subscribe(s, Subscription{ID: "sub_a", State: SubActive, Client: "c"}, WebhookDelivery{State: Sent}, 5); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"evt-bad", "evt-good"} {
		announce(t, s, status.Event{ID: id, Type: status.IncidentCreated}, []Dest{{Name: WebhooksDest}}, now)
	}
	fan := func(ev status.Event, subs []Subscription) ([]byte, []string, error) {
		if ev.ID == "evt-bad" {
			return nil, nil, errors.New("no incident")
		}
		return []byte(`{}`), []string{"sub_a"}, nil
	}
	if rows, created, err := expand(s, 10, fan, now); err != nil || rows != 2 || created != 1 {
		t.Fatalf("expand: rows %d created %d err %v", rows, created, err)
	}
	bad, _ := s.OutboxRow(1)
	if d := bad.Deliveries[WebhooksDest]; d.State != Failed || d.LastError != "webhook body: no incident" {
		t.Fatalf("bad row: %+v", d)
	}
	if rows, _ := s.Unfinished(10); len(rows) != 0 {
		t.Fatalf("rows left open: %d", len(rows))
	}
}

func TestCancelGoneDestinations(t *testing.T) {
	s, _ := openTemp(t)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	announce(t, s, status.Event{ID: "evt-1"}, []Dest{{Name: WebhooksDest}, {Name: "mastodon"}, {Name: "old-slack"}}, now)
	cancelGone := func(keep ...string) (int, error) {
		res, err := s.Apply(Entry{At: now, KeepDests: &keep})
		return res.Changed, err
	}
	n, err := cancelGone("mastodon")
	if err != nil || n != 2 {
		t.Fatalf("cancelled %d (%v), want 2", n, err)
	}
	row, _ := s.OutboxRow(1)
	if row.Deliveries["mastodon"].State != Pending || row.Deliveries["old-slack"].State != Cancelled || row.Deliveries[WebhooksDest].State != Cancelled {
		t.Fatalf("row = %+v", row.Deliveries)
	}
	depth, _ := s.OutboxDepth()
	if len(depth) != 1 || depth["mastodon"].Pending != 1 {
		t.Fatalf("depth = %+v", depth)
	}
	if n, _ := cancelGone(); n != 1 {
		t.Fatalf("second pass cancelled %d, want 1 (mastodon)", n)
	}
	if rows, _ := s.Unfinished(10); len(rows) != 0 {
		t.Fatalf("open rows left: %d", len(rows))
	}
}
