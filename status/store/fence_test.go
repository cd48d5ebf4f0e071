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
