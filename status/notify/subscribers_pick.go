package notify

import (
	"context"
	"time"

	"github.com/outpost-status/outpost/status/store"
)

// dispatch hands due deliveries to the workers, in batches of one slot
// key, at most PerKey per key at a time, and says how long to sleep.
func (s *Subscribers) dispatch(ctx context.Context, work chan<- batch) time.Duration {
	now := s.o.Now()
	s.refreshSubs()
	s.rates.pass(now)
	// Under scan, the recorder cannot release a delivery between the
	// reads of the open index and the in-flight checks in pick: otherwise
	// one recorded meanwhile could look open and idle, and go out twice.
	s.scan.Lock()
	seqs, next, err := s.pickOpen(now, 4*s.o.Workers*s.o.Batch)
	var list []store.WebhookJob
	if err == nil && len(seqs) > 0 {
		list, err = s.o.Store.DeliveryJobs(seqs)
	}
	s.scan.Unlock()
	if err != nil {
		s.o.Logger.Error("subscriber deliveries unreadable", "kind", string(s.o.Transport.Kind()), "error", err)
		return s.o.Poll
	}
	batches, drop := s.claim(now, list)
	if len(drop) > 0 {
		var cancel []store.WebhookOutcome
		for _, seq := range drop {
			cancel = append(cancel, store.WebhookOutcome{Seq: seq, At: now, Cancel: true})
		}
		if _, err := s.o.Log.Apply(store.Entry{At: now, Outcomes: &store.WebhookOutcomes{List: cancel}}); err != nil {
			s.o.Logger.Error("subscriber delivery update failed", "kind", string(s.o.Transport.Kind()), "error", err)
		}
	}
	if s.o.MarkSending && !s.markSending(now, batches) {
		return s.o.Poll
	}
	for i, b := range batches {
		select {
		case work <- b:
		case <-ctx.Done():
			s.release(batches[i:])
			return 0
		}
	}
	wait := s.o.Poll
	for _, at := range []time.Time{next, s.rates.wakeAt()} {
		if !at.IsZero() {
			wait = min(max(at.Sub(now), 0), wait)
		}
	}
	return wait
}

// claim takes a slot for each job that goes now and groups them by key
// into batches of at most Batch; it returns the deliveries to cancel.
func (s *Subscribers) claim(now time.Time, list []store.WebhookJob) ([]batch, []uint64) {
	var out []batch
	open := map[string]int{} // key → index in out of its batch being filled
	var drop []uint64
	for _, j := range list {
		if j.Sub == nil {
			drop = append(drop, j.Delivery.Seq)
			continue
		}
		if j.Sub.Kind != s.o.Transport.Kind() {
			continue // another kind's loop sends it
		}
		switch s.o.Transport.Ready(j) {
		case Wait:
			continue
		case Cancel:
			drop = append(drop, j.Delivery.Seq)
			continue
		}
		key := s.o.Transport.Key(*j.Sub)
		if !s.slots.Take(j.Delivery.Seq, key) {
			continue // the key is busy; a finishing batch wakes the loop
		}
		s.rates.take(key, now, 1)
		i, ok := open[key]
		if !ok || len(out[i].jobs) == s.o.Batch {
			out = append(out, batch{key: key})
			i = len(out) - 1
			open[key] = i
		}
		out[i].jobs = append(out[i].jobs, j)
	}
	return out, drop
}

// markSending commits one durable sending mark for every job about to go
// (one fsync for all of them); false when it failed, and nothing is sent.
func (s *Subscribers) markSending(now time.Time, batches []batch) bool {
	var marks []store.WebhookOutcome
	for _, b := range batches {
		for _, j := range b.jobs {
			marks = append(marks, store.WebhookOutcome{Seq: j.Delivery.Seq, At: now, Sending: true})
		}
	}
	if len(marks) == 0 {
		return true
	}
	if _, err := s.o.Log.Apply(store.Entry{At: now, Outcomes: &store.WebhookOutcomes{Policy: s.o.Policy, List: marks}}); err != nil {
		s.o.Logger.Error("sending marks not recorded; nothing sent", "kind", string(s.o.Transport.Kind()), "deliveries", len(marks), "error", err)
		s.release(batches)
		return false
	}
	return true
}

// release gives back the slots of batches that were not sent.
func (s *Subscribers) release(batches []batch) {
	for _, b := range batches {
		for _, j := range b.jobs {
			s.slots.FreeHost(b.key)
			s.slots.Done(j.Delivery.Seq)
		}
	}
}

// Pages of the open index start small (a busy key's backlog is usually
// decided within its first rows) and grow for a long walk.
const (
	firstPage = 16
	maxPage   = 1024
)

// pickOpen walks the open index page by page, outside any transaction,
// and returns up to limit deliveries to send now, and the earliest next
// attempt among the rows read that are not due yet (zero if none). An open
// delivery about an incident holds back the later ones about it to the
// same subscriber (in flight, retrying or not yet due), so a receiver gets
// incident.created before its updates.
func (s *Subscribers) pickOpen(now time.Time, limit int) ([]uint64, time.Time, error) {
	pick := s.picker(now)
	held := map[string]bool{}
	var seqs []uint64
	var next time.Time
	var after uint64
	for page := firstPage; ; page = min(2*page, maxPage) {
		refs, err := s.o.Store.OpenDeliveries(s.o.Transport.Kind(), after, page)
		if err != nil {
			return nil, time.Time{}, err
		}
		for _, r := range refs {
			after = r.Seq
			if r.Incident != "" {
				pair := r.Sub + "\x00" + r.Incident
				if held[pair] {
					continue
				}
				held[pair] = true
			}
			if r.At.After(now) {
				if next.IsZero() || r.At.Before(next) {
					next = r.At
				}
				continue
			}
			switch pick(r.Seq, r.Sub) {
			case pickSkip:
				continue
			case pickStop:
				return seqs, next, nil
			}
			if seqs = append(seqs, r.Seq); len(seqs) == limit {
				return seqs, next, nil
			}
		}
		if len(refs) < page {
			return seqs, next, nil
		}
	}
}
