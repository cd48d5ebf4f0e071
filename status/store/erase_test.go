package store

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
)

// "Delete my data": after the erasure's commit, the address is nowhere in
// the data file, not in a live record and not in the free pages the
// record's earlier versions (and its deliveries' attempts, which may
// quote the address in a server's answer) were written to. The witness
// shows the scan finds an address that is kept.
func TestErasureLeavesNoTraceOfTheAddress(t *testing.T) {
	s, path := openTemp(t)
	const gone, kept = "erase-me@example.org", "keep-me@example.net"
	for _, sub := range []Subscription{emailSub("em_gone", gone, "t-gone", nil, true), emailSub("em_kept", kept, "t-kept", nil, true)} {
		mustApply(t, s, Entry{At: t0, Subscribe: &NewSubscription{Sub: sub}})
	}
	at := t0.Add(time.Minute)
	for _, tok := range []string{"t-gone", "t-kept"} {
		mustApply(t, s, Entry{At: at, Confirm: &Confirmation{TokenHash: HashToken(tok)}})
	}
	// Rewrites of the row leave its earlier versions in freed pages.
	mustApply(t, s, Entry{At: at, Preferences: &Preferences{ID: "em_gone", Components: []string{"api"}}})
	mustApply(t, s, Entry{At: at, Subscription: &SubscriptionChange{ID: "em_gone", State: SubPaused, From: []SubState{SubActive}}})
	mustApply(t, s, Entry{At: at, Subscription: &SubscriptionChange{ID: "em_gone", State: SubActive, From: []SubState{SubPaused}}})
	// A delivery whose attempt quotes the address, as an SMTP server's
	// answer may.
	mustApply(t, s, Entry{At: at, Ping: &WebhookDelivery{Sub: "em_gone", MessageID: "evt-1", Type: string(status.IncidentCreated), State: Pending, NextAt: at, CreatedAt: at}})
	log, err := s.WebhookLog("em_gone", 1)
	if err != nil || len(log) != 1 {
		t.Fatalf("delivery: %v %v", log, err)
	}
	mustApply(t, s, Entry{At: at, Outcomes: &WebhookOutcomes{Policy: WebhookPolicy{EmailSchedule: []time.Duration{time.Minute}},
		List: []WebhookOutcome{{Seq: log[0].Seq, At: at, Status: 451, Error: "451 4.2.1 <" + gone + ">: mailbox busy"}}}})
	if raw := mustRead(t, path); !bytes.Contains(raw, []byte(gone)) {
		t.Fatal("fixture: the address is not in the file before the erasure")
	}

	mustApply(t, s, Entry{At: at.Add(time.Minute), Subscription: &SubscriptionChange{ID: "em_gone", Delete: true, Erase: true}})

	if _, err := s.EmailSubscriber(gone); !errors.Is(err, ErrNotFound) {
		t.Fatalf("erased address still found: %v", err)
	}
	if log, _ := s.WebhookLog("em_gone", 10); len(log) != 0 {
		t.Fatalf("erased subscriber's deliveries: %d left", len(log))
	}
	raw := mustRead(t, path)
	if n := bytes.Count(bytes.ToLower(raw), []byte(gone)); n > 0 {
		t.Fatalf("the data file still holds the erased address %d times after the commit", n)
	}
	if !bytes.Contains(raw, []byte(kept)) {
		t.Fatal("the witness's address is gone: the scan proves nothing, or too much was erased")
	}
	// The file is whole, and the witness as it was.
	if sub, err := s.Subscription("em_kept"); err != nil || sub.State != SubActive {
		t.Fatalf("witness after the erasure: %+v (%v)", sub, err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A paused email subscriber gets nothing new: no delivery is made for it
// while paused, and the mails still waiting when it paused are cancelled
// (not sent as a backlog on resume); one already handed to the server
// (sending) is left to finish. Resumed, it hears the next event.
func TestPausedEmailSubscriberGetsNothingNew(t *testing.T) {
	s, _ := openTemp(t)
	mustApply(t, s, Entry{At: t0, Subscribe: &NewSubscription{Sub: emailSub("em_p", "p@example.org", "t-p", nil, true)}})
	mustApply(t, s, Entry{At: t0, Confirm: &Confirmation{TokenHash: HashToken("t-p")}})
	at := t0.Add(time.Minute)
	for _, id := range []string{"evt-waiting", "evt-sending"} {
		mustApply(t, s, Entry{At: at, Ping: &WebhookDelivery{Sub: "em_p", MessageID: id, Type: string(status.IncidentCreated), State: Pending, NextAt: at, CreatedAt: at}})
	}
	log, _ := s.WebhookLog("em_p", 10) // newest first
	mustApply(t, s, Entry{At: at, Outcomes: &WebhookOutcomes{List: []WebhookOutcome{{Seq: log[0].Seq, At: at, Sending: true}}}})

	mustApply(t, s, Entry{At: at, Subscription: &SubscriptionChange{ID: "em_p", State: SubPaused, From: []SubState{SubActive}}})
	states := map[string]DeliveryState{}
	log, _ = s.WebhookLog("em_p", 10)
	for _, d := range log {
		states[d.MessageID] = d.State
	}
	if states["evt-waiting"] != Cancelled || states["evt-sending"] != Sending {
		t.Fatalf("after pausing: %v; want the waiting mail cancelled and the one sending left", states)
	}
	ev := status.Event{ID: "evt-new", Type: status.IncidentCreated, Incident: &status.Incident{ID: "inc-1", Components: []string{"api"}}}
	sub, _ := s.Subscription("em_p")
	if sub.EmailWants(ev) {
		t.Fatal("a paused subscriber wants a new incident")
	}
	seq := announce(t, s, ev, []Dest{{Name: EmailDest}}, at)
	if res := mustApply(t, s, Entry{At: at, Fanout: []FannedRow{{Seq: seq, Dest: EmailDest, Subs: []string{"em_p"}}}}); res.Created != 0 {
		t.Fatalf("fan-out made %d deliveries for a paused subscriber", res.Created)
	}
	mustApply(t, s, Entry{At: at, Subscription: &SubscriptionChange{ID: "em_p", State: SubActive, From: []SubState{SubPaused}}})
	if sub, _ := s.Subscription("em_p"); !sub.EmailWants(ev) {
		t.Fatal("resumed, the subscriber does not want a new incident")
	}
}
