package notify

import (
	"time"

	"github.com/outpost-status/outpost/status/store"
)

// pickVerdict is what the loop says of a due delivery, by its sequence
// and subscriber id, before anything of it is decoded.
type pickVerdict int

const (
	pickTake pickVerdict = iota
	pickSkip             // in flight, paused, another kind's, or for a busy key
	// pickStop ends the walk: nothing more can be taken now (every key's
	// slots are full), so the rest of the index need not be read.
	pickStop
)

// picker decides, row by row of one walk, which open deliveries the loop
// takes: at most the free slots of each key, none while in flight or
// paused, and no more than the key's rate allows at now. left is how
// many more each key may take in this pass; open is how many keys still
// have room. Once none has, the rest of the index is
// not walked: with 1,000 deliveries queued for one host, walking it all
// for each freed slot was most of the loop's time.
func (s *Subscribers) picker(now time.Time) func(seq uint64, id string) pickVerdict {
	// Only the keys in flight are read up front (at most Workers of them),
	// not every subscriber's: a key's room is looked up when a row of it
	// is first met.
	open := len(s.keys)
	for _, k := range s.slots.Full() {
		if s.keys[k] {
			open--
		}
	}
	left := map[string]int{}
	room := func(k string) int {
		n, ok := left[k]
		if !ok {
			if n = s.slots.Free(k); n > 0 {
				// A key held by its rate counts as full for this pass.
				if n = min(n, s.rates.room(k, now)); n == 0 && s.keys[k] {
					open--
				}
			}
			left[k] = n
		}
		return n
	}
	return func(seq uint64, id string) pickVerdict {
		info, ok := s.subs[id]
		switch {
		case !ok:
			if s.slots.Busy(seq, "") {
				return pickSkip
			}
			return pickTake // gone: read it, to be dropped
		case info.other:
			return pickSkip // another kind's loop sends it
		case open == 0:
			return pickStop // a finishing batch wakes the loop
		case info.paused:
			return pickSkip // waits to be resumed
		case s.slots.Busy(seq, "") || room(info.key) <= 0:
			return pickSkip
		}
		if left[info.key]--; left[info.key] == 0 {
			open--
		}
		return pickTake
	}
}

// subInfo is what the loop needs of a subscriber to decide, without
// reading it, whether its deliveries may go now.
type subInfo struct {
	key    string
	paused bool
	other  bool // of another kind
}

// refreshSubs re-reads subscribers when any was created, deleted or
// changed state since the last read (called from the loop only).
func (s *Subscribers) refreshSubs() {
	v := s.o.Store.SubscriptionsVersion()
	if s.subs != nil && v == s.subsVersion {
		return
	}
	subs, err := s.o.Store.Subscriptions()
	if err != nil {
		s.o.Logger.Error("subscribers unreadable", "kind", string(s.o.Transport.Kind()), "error", err)
		return
	}
	s.subs = make(map[string]subInfo, len(subs))
	s.keys = map[string]bool{}
	for _, sub := range subs {
		if sub.Kind != s.o.Transport.Kind() {
			s.subs[sub.ID] = subInfo{other: true}
			continue
		}
		k := s.o.Transport.Key(sub)
		s.subs[sub.ID] = subInfo{key: k, paused: sub.State == store.SubPaused}
		s.keys[k] = true
	}
	s.subsVersion = v
}

// record commits outcomes in batches (one transaction for all that
// arrived meanwhile), then frees their slots and wakes the loop.
func (s *Subscribers) record(results <-chan store.WebhookOutcome) {
	for {
		batch, ok := Drain(results)
		if !ok {
			return
		}
		// The commit runs outside scan, so the loop need not wait for a
		// disk sync; releasing takes scan, so no read the loop started
		// before the commit can see these deliveries open and idle.
		s.commit(batch)
		s.scan.Lock()
		for _, o := range batch {
			s.slots.Done(o.Seq)
		}
		s.scan.Unlock()
		s.Wake()
	}
}

func (s *Subscribers) commit(batch []store.WebhookOutcome) {
	kind := string(s.o.Transport.Kind())
	res, err := s.o.Log.Apply(store.Entry{At: batch[len(batch)-1].At, Outcomes: &store.WebhookOutcomes{Policy: s.o.Policy, List: batch}})
	if err != nil {
		// Not recorded: the deliveries stay open and are sent again, with
		// the same id (at least once).
		s.o.Logger.Error("subscriber outcomes not recorded", "kind", kind, "deliveries", len(batch), "error", err)
		return
	}
	for _, l := range res.Outcomes {
		for _, label := range l.Labels {
			switch label {
			case "verified":
				s.o.Logger.Info("subscription verified", "kind", kind, "subscription", l.Sub)
			case "disabled":
				// The reason is the server's last answer, which may repeat the address.
				s.o.Logger.Warn("subscription disabled", "kind", kind, "subscription", l.Sub, "reason", RedactAddresses(l.Reason))
			}
			if s.o.Observe != nil {
				s.o.Observe(s.Dest(), label)
			}
		}
	}
}
