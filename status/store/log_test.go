package store

import (
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
)

// Helpers that write through the one way in, as the packages above do.

func mustApply(t testing.TB, s *Store, e Entry) Result {
	t.Helper()
	res, err := s.Apply(e)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// announce adds one announcement and returns its outbox sequence.
func announce(t testing.TB, s *Store, ev status.Event, dests []Dest, now time.Time) uint64 {
	t.Helper()
	return mustApply(t, s, Entry{At: now, Announce: []Announcement{{Event: ev, Dests: dests}}}).Seqs[0]
}

// expand fans out due rows as the webhook service does.
func expand(s *Store, limit int, fan Fanout, now time.Time) (rows, created int, err error) {
	due, subs, err := s.DueForFanout(limit, now)
	if err != nil || len(due) == 0 {
		return 0, 0, err
	}
	res, err := s.Apply(Entry{At: now, Fanout: FanOut(due, subs, fan)})
	return res.Rows, res.Created, err
}

// step applies an engine step.
func step(s *Store, ch *status.Changes, st *status.State, route Router, now time.Time) error {
	_, err := s.Apply(Entry{At: now, Step: NewStep(ch, st, route)})
	return err
}

func subscribe(s *Store, sub Subscription, verify WebhookDelivery, perClient int) error {
	_, err := s.Apply(Entry{At: t0, Subscribe: &NewSubscription{Sub: sub, Verify: verify, PerClient: perClient}})
	return err
}
