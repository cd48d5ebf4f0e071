package cluster

import (
	"errors"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// A claim stamped with an ended leadership's term is refused by every
// member's apply (raft's entry term reaches the store), wherever it is
// written from; one stamped with the term in force is made.
func TestClaimOfAnEndedTermIsRefusedByTheCluster(t *testing.T) {
	ms := threeNodes(t)
	for _, m := range ms {
		m.start(t, 0)
	}
	var leader, follower *member
	eventually(t, "leader", func() bool {
		for _, m := range ms {
			if m.node.IsLeader() {
				leader = m
			}
		}
		return leader != nil
	})
	for _, m := range ms {
		if m != leader {
			follower = m
			break
		}
	}
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	ev := status.Event{ID: "evt-1", Type: status.IncidentCreated}
	if _, err := leader.node.Apply(store.Entry{At: at, Announce: []store.Announcement{{Event: ev, Dests: []store.Dest{{Name: "masto"}}}}}); err != nil {
		t.Fatal(err)
	}
	term := leader.node.Term()
	if term < 2 {
		t.Fatalf("term %d: no earlier leadership to stamp", term)
	}
	old := store.Entry{At: at, Marks: []store.Mark{{Seq: 1, Dest: "masto", To: store.Sending, Term: term - 1}}}
	if _, err := follower.node.Apply(old); !errors.Is(err, store.ErrDeposed) {
		t.Fatalf("a claim of term %d in term %d: %v, want ErrDeposed", term-1, term, err)
	}
	cur := store.Entry{At: at, Marks: []store.Mark{{Seq: 1, Dest: "masto", To: store.Sending, Term: term}}}
	if _, err := leader.node.Apply(cur); err != nil {
		t.Fatalf("a claim of the term in force: %v", err)
	}
	eventually(t, "the claim on every member", func() bool {
		for _, m := range ms {
			r, err := m.st.OutboxRow(1)
			if err != nil || r.Deliveries["masto"].State != store.Sending || r.Deliveries["masto"].Attempts != 1 {
				return false
			}
		}
		return true
	})
}

// Raft's leadership notifications reach every reader at once (raft's own
// channel gives each to one reader): a leader that steps down closes the
// channel each reader took, and so does the member that takes over.
func TestLeadershipChangeReachesEveryReader(t *testing.T) {
	ms := threeNodes(t)
	for _, m := range ms {
		m.start(t, 0)
	}
	var leader *member
	eventually(t, "leader", func() bool {
		for _, m := range ms {
			if m.node.IsLeader() {
				leader = m
			}
		}
		return leader != nil
	})
	readers := map[*member][]<-chan struct{}{}
	for _, m := range ms {
		readers[m] = []<-chan struct{}{m.node.LeadershipChanged(), m.node.LeadershipChanged()}
	}
	if err := leader.node.HandOver(""); err != nil {
		t.Fatal(err)
	}
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	eventually(t, "the change told to both readers of the old leader and of the new one", func() bool {
		for _, m := range ms {
			if m != leader && !m.node.IsLeader() {
				continue
			}
			for _, ch := range readers[m] {
				if !closed(ch) {
					return false
				}
			}
		}
		return true
	})
	if leader.node.IsLeader() {
		t.Fatal("the old leader still leads after stepping down")
	}
}
