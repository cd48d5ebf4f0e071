package store

import (
	"errors"
	"testing"

	"github.com/outpost-status/outpost/status"
)

// A claim carries the term of the leadership it was made under; applied
// from the log in another term (its leader lost the leadership before the
// claim committed) it is refused, alike everywhere, and recorded. An
// outcome is never fenced: its send happened, and refusing it would make
// the next leader send again.
func TestClaimFromAnEndedLeadershipIsRefused(t *testing.T) {
	s, _ := openTemp(t)
	ev := status.Event{ID: "evt-1", Type: status.IncidentCreated}
	mustApply(t, s, Entry{At: t0, Index: 1, Term: 3, Announce: []Announcement{{Event: ev, Dests: []Dest{{Name: "masto"}}}}})
	_, err := s.Apply(Entry{At: t0, Index: 2, Term: 4, Marks: []Mark{{Seq: 1, Dest: "masto", To: Sending, Term: 3}}})
	var r *Refusal
	if !errors.As(err, &r) || !errors.Is(err, ErrDeposed) || r.Part != "marks" {
		t.Fatalf("a claim of term 3 applied in term 4: %v, want a refusal of marks (ErrDeposed)", err)
	}
	if d := row(t, s, 1).Deliveries["masto"]; d.State != Pending || d.Attempts != 0 {
		t.Fatalf("after the refused claim: %+v", d)
	}
	if n, _ := s.AppliedIndex(); n != 2 {
		t.Fatalf("applied index %d, want 2 (the log moves past a refusal)", n)
	}
	// The leader of term 4 claims it; the deposed one's outcome still counts.
	mustApply(t, s, Entry{At: t0, Index: 3, Term: 4, Marks: []Mark{{Seq: 1, Dest: "masto", To: Sending, Term: 4}}})
	mustApply(t, s, Entry{At: t0, Index: 4, Term: 4, Marks: []Mark{{Seq: 1, Dest: "masto", To: Sent, RemoteID: "9", Term: 3}}})
	if d := row(t, s, 1).Deliveries["masto"]; d.State != Sent || d.Attempts != 1 || d.RemoteID != "9" {
		t.Fatalf("after the claim and the outcome: %+v", d)
	}
	// A single node's claims carry no term and its log none: never fenced.
	mustApply(t, s, Entry{At: t0, Announce: []Announcement{{Event: status.Event{ID: "evt-2"}, Dests: []Dest{{Name: "masto"}}}}})
	mustApply(t, s, Entry{At: t0, Marks: []Mark{{Seq: 2, Dest: "masto", To: Sending}}})
}

func row(t *testing.T, s *Store, seq uint64) OutboxRow {
	t.Helper()
	r, err := s.OutboxRow(seq)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A subscriber delivery's claim (a Sending outcome) is fenced as a
// channel's is: refused from an ended term, made in the term in force,
// and never fenced on a single node.
func TestSubscriberClaimFromAnEndedLeadershipIsRefused(t *testing.T) {
	s, _ := openTemp(t)
	sub := Subscription{ID: "sub_a", URL: "https://hooks.example.com/a", State: SubActive, Client: "c", CreatedAt: t0}
	if err := subscribe(s, sub, WebhookDelivery{Type: VerifyType, State: Sent, CreatedAt: t0}, 5); err != nil {
		t.Fatal(err)
	}
	announce(t, s, status.Event{ID: "evt-1", Type: status.IncidentCreated, Incident: &status.Incident{ID: "inc-1"}}, []Dest{{Name: WebhooksDest}}, t0)
	fan := func(ev status.Event, subs []Subscription) ([]byte, []string, error) {
		return []byte(`{}`), []string{"sub_a"}, nil
	}
	if _, created, err := expand(s, 10, fan, t0); err != nil || created != 1 {
		t.Fatalf("expand: %d %v", created, err)
	}
	refs, err := s.OpenDeliveries(KindWebhook, 0, 10)
	if err != nil || len(refs) != 1 {
		t.Fatalf("open deliveries: %+v %v", refs, err)
	}
	seq := refs[0].Seq
	claim := func(index, logTerm, term uint64) error {
		_, err := s.Apply(Entry{At: t0, Index: index, Term: logTerm, Outcomes: &WebhookOutcomes{List: []WebhookOutcome{{Seq: seq, At: t0, Sending: true, Term: term}}}})
		return err
	}
	base, _ := s.AppliedIndex()
	var r *Refusal
	if err := claim(base+1, 4, 3); !errors.As(err, &r) || !errors.Is(err, ErrDeposed) || r.Part != "outcomes" {
		t.Fatalf("a claim of term 3 applied in term 4: %v, want a refusal of outcomes (ErrDeposed)", err)
	}
	if jobs, _ := s.DeliveryJobs([]uint64{seq}); len(jobs) != 1 || jobs[0].Delivery.State != Pending {
		t.Fatalf("after the refused claim: %+v", jobs)
	}
	if err := claim(base+2, 4, 4); err != nil {
		t.Fatalf("a claim of the term in force: %v", err)
	}
	if jobs, _ := s.DeliveryJobs([]uint64{seq}); len(jobs) != 1 || jobs[0].Delivery.State != Sending {
		t.Fatalf("after the claim: %+v", jobs)
	}
	if err := claim(0, 0, 0); err != nil {
		t.Fatalf("a single node's claim: %v", err)
	}
}
