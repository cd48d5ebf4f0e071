package store

import (
	"errors"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
)

// Releasing or cancelling a held announcement changes every destination
// still waiting and writes the audit entry in one transaction; a
// destination the dispatcher has claimed is left alone; asking again, or
// for an unknown row, changes nothing and says why.
func TestDecideHeldAnnouncements(t *testing.T) {
	s, _ := openTemp(t)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	ev := status.Event{ID: "evt-1", Type: status.IncidentCreated, Incident: &status.Incident{ID: "inc-1"}}
	seq := announce(t, s, ev, []Dest{{Name: "mastodon", Hold: true}, {Name: "x", Delay: time.Hour}, {Name: "slack", Hold: true}}, now)
	// The dispatcher claims slack first (as if it had been released).
	mustApply(t, s, Entry{At: now, Marks: []Mark{{Seq: seq, Dest: "slack", To: Sending}}})
	res, err := s.Apply(Entry{At: now.Add(time.Minute), Decide: &Decision{Seq: seq, Actor: "oncall"}})
	row, changed := res.Row, res.Changed
	if err != nil || changed != 2 {
		t.Fatalf("cancel: %d changed, %v", changed, err)
	}
	stored, err := s.OutboxRow(seq)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]DeliveryState{"mastodon": Cancelled, "x": Cancelled, "slack": Sending} {
		if got := stored.Deliveries[name].State; got != want || row.Deliveries[name].State != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	if d := stored.Deliveries["x"]; d.LastError != "cancelled by oncall" || !d.UpdatedAt.Equal(now.Add(time.Minute)) {
		t.Errorf("x: %+v", d)
	}
	audit, err := s.AuditLog(10, time.Time{})
	if err != nil || len(audit) != 1 || audit[0].Action != "cancel_announcement" || audit[0].Actor != "oncall" ||
		audit[0].Detail != "incident.created evt-1, 2 destination(s)" {
		t.Fatalf("audit: %+v %v", audit, err)
	}
	if _, err := s.Apply(Entry{At: now.Add(2 * time.Minute), Decide: &Decision{Seq: seq, Release: true, Actor: "oncall"}}); !errors.Is(err, ErrNotWaiting) {
		t.Errorf("releasing a decided row: %v", err)
	}
	if _, err := s.Apply(Entry{At: now, Decide: &Decision{Seq: 999, Release: true, Actor: "oncall"}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown row: %v", err)
	}
	if audit, _ := s.AuditLog(10, time.Time{}); len(audit) != 1 {
		t.Errorf("refused decisions were audited: %+v", audit)
	}
}

// A subscription changed or deleted with an admin token carries its audit
// entry in the same transaction: a refused change records nothing.
func TestSubscriptionChangesCarryTheirAudit(t *testing.T) {
	s, _ := openTemp(t)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	sub := Subscription{ID: "sub_a", URL: "https://hooks.example.com/a", State: SubActive, Client: "c", CreatedAt: now}
	if err := subscribe(s, sub, WebhookDelivery{Type: "subscription.verify", State: Sent, CreatedAt: now}, 5); err != nil {
		t.Fatal(err)
	}
	entry := func(action string) status.AuditEntry {
		return status.AuditEntry{At: now, Actor: "oncall", Action: action, Target: "sub_a"}
	}
	change := func(c SubscriptionChange, action string) error {
		c.ID = "sub_a"
		_, err := s.Apply(Entry{At: now, Subscription: &c, Audit: []status.AuditEntry{entry(action)}})
		return err
	}
	refused := ErrSubState // only a disabled subscription may be paused here
	if err := change(SubscriptionChange{State: SubPaused, From: []SubState{SubDisabled}}, "pause_subscription"); !errors.Is(err, refused) {
		t.Fatalf("refused change: %v", err)
	}
	if err := change(SubscriptionChange{State: SubPaused, From: []SubState{SubActive}}, "pause_subscription"); err != nil {
		t.Fatal(err)
	}
	if err := change(SubscriptionChange{Delete: true}, "delete_subscription"); err != nil {
		t.Fatal(err)
	}
	if err := change(SubscriptionChange{Delete: true}, "delete_subscription"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
	audit, err := s.AuditLog(10, time.Time{})
	if err != nil || len(audit) != 2 || audit[0].Action != "delete_subscription" || audit[1].Action != "pause_subscription" {
		t.Fatalf("audit %+v %v", audit, err)
	}
}
