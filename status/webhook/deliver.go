package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/notify"
	"github.com/outpost-status/outpost/status/statuspage"
	"github.com/outpost-status/outpost/status/store"
)

// envelope is every delivery's body.
type envelope struct {
	Type string `json:"type"`
	// Sequence orders events: it grows with every event Outpost emits
	// (several share a step's timestamp), across restarts and restores.
	Sequence  uint64 `json:"sequence,omitempty"`
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

// stamp is the one timestamp format of every body: UTC, milliseconds.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// maxAnswer bounds how much of a receiver's answer is read.
const maxAnswer = 64 << 10

// retention is how long deliveries and their logs are kept.
const retention = 30 * 24 * time.Hour

// matches reports whether sub takes ev.
func matches(sub store.Subscription, ev status.Event) bool {
	if sub.Events != nil && !slices.Contains(sub.Events, string(ev.Type)) {
		return false
	}
	return sub.Components == nil || slices.ContainsFunc(ev.ComponentIDs(), func(id string) bool { return slices.Contains(sub.Components, id) })
}

// fan builds an event's body once and picks its subscribers. The data
// object came with the event, built from its own step's page; an event
// stored without it (by an older Outpost) gets one from what it carries.
func (s *Service) fan(ev status.Event, subs []store.Subscription) ([]byte, []string, error) {
	var to []string
	for _, sub := range subs {
		if matches(sub, ev) {
			to = append(to, sub.ID)
		}
	}
	if len(to) == 0 {
		return nil, nil, nil
	}
	var data any = ev.Data
	if len(ev.Data) == 0 {
		d, err := statuspage.EventOnly(s.o.Site, ev).WebhookData(ev)
		if err != nil {
			return nil, nil, err
		}
		data = d
	}
	body, err := json.Marshal(envelope{Type: string(ev.Type), Sequence: ev.Seq, Timestamp: stamp(ev.At), Data: data})
	return body, to, err
}

// fanOut decides each due row's body and subscribers, outside any
// transaction; a row whose body cannot be made fails on its own.
func (s *Service) fanOut(rows []store.OutboxRow, subs []store.Subscription) []store.FannedRow {
	out := make([]store.FannedRow, 0, len(rows))
	for _, r := range rows {
		body, to, err := s.fan(r.Event, subs)
		f := store.FannedRow{Seq: r.Seq, Dest: store.WebhooksDest, Body: body, Subs: to}
		if err != nil {
			f = store.FannedRow{Seq: r.Seq, Dest: store.WebhooksDest, Error: err.Error()}
		}
		out = append(out, f)
	}
	return out
}

// outcome is one attempt's result as the log records it, and the host
// whose slot it held.
type outcome struct {
	store.WebhookOutcome
	host string
}

func (s *Service) run(ctx context.Context) {
	jobs := make(chan store.WebhookJob)
	results := make(chan outcome, s.o.Workers)
	var wg sync.WaitGroup
	for range s.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				o := s.attempt(j)
				s.slots.FreeHost(o.host)
				s.Wake()
				results <- o
			}
		}()
	}
	recorded := make(chan struct{})
	go func() { s.record(results); close(recorded) }()

	var pruned time.Time
	for {
		if now := s.o.Now(); now.Sub(pruned) > time.Hour {
			res, err := s.o.Log.Apply(store.Entry{At: now, PruneWebhooks: &store.PruneWebhooks{Cutoff: now.Add(-retention), Limit: 5000}})
			if err != nil {
				s.o.Logger.Error("webhook pruning failed", "error", err)
			} else if res.Deleted > 0 {
				s.o.Logger.Info("pruned old webhook deliveries", "deliveries", res.Deleted)
			}
			pruned = now
		}
		more := s.expand()
		wait := s.dispatch(ctx, jobs)
		if more {
			wait = 0
		}
		if !s.wake.Sleep(ctx, wait) {
			break
		}
	}
	// Attempts in flight finish (bounded by the client's timeout) and are
	// recorded, so a clean stop leaves nothing to re-send.
	close(jobs)
	wg.Wait()
	close(results)
	<-recorded
}

const expandBatch = 200

// expand turns committed events into per-subscription deliveries; true
// when more may be waiting. Bodies and subscribers are decided from a
// read, outside the write; the entry re-checks that each row still waits
// and each subscription still takes deliveries.
func (s *Service) expand() bool {
	now := s.o.Now()
	due, subs, err := s.o.Store.DueForFanout(store.WebhooksDest, expandBatch, now)
	if err == nil && len(due) > 0 {
		var res store.Result
		res, err = s.o.Log.Apply(store.Entry{At: now, Fanout: s.fanOut(due, subs)})
		if err == nil && res.Created > 0 {
			s.o.Logger.Debug("webhook deliveries queued", "deliveries", res.Created)
		}
	}
	if err != nil {
		s.o.Logger.Error("webhook fan-out failed; will retry", "error", err)
		return false
	}
	return len(due) == expandBatch
}

// dispatch hands due deliveries to the workers, at most PerHost per host
// at a time, and says how long to sleep.
func (s *Service) dispatch(ctx context.Context, jobs chan<- store.WebhookJob) time.Duration {
	now := s.o.Now()
	s.refreshSubs()
	// Under scan, the recorder cannot release a delivery between the
	// reads of the open index and the in-flight checks in pick: otherwise
	// one recorded meanwhile could look open and idle, and go out twice.
	s.scan.Lock()
	seqs, next, err := s.pickOpen(now, 4*s.o.Workers)
	var list []store.WebhookJob
	if err == nil && len(seqs) > 0 {
		list, err = s.o.Store.DeliveryJobs(seqs)
	}
	s.scan.Unlock()
	if err != nil {
		s.o.Logger.Error("webhook deliveries unreadable", "error", err)
		return s.o.Poll
	}
	var drop []uint64
	for _, j := range list {
		verify := j.Delivery.Type == VerifyType
		switch {
		case j.Sub == nil:
			drop = append(drop, j.Delivery.Seq)
			continue
		case j.Sub.Kind != store.KindWebhook:
			continue // another kind's loop sends it
		case j.Sub.State == store.SubPaused:
			continue // paused since the map was read
		case verify && j.Sub.State != store.SubPending, !verify && j.Sub.State != store.SubActive:
			drop = append(drop, j.Delivery.Seq)
			continue
		}
		host := splitHost(j.Sub.URL)
		if !s.slots.Take(j.Delivery.Seq, host) {
			continue // the host is busy; a finishing attempt wakes the loop
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
			s.slots.FreeHost(host)
			s.slots.Done(j.Delivery.Seq)
			return 0
		}
	}
	if len(drop) > 0 {
		var list []store.WebhookOutcome
		for _, seq := range drop {
			list = append(list, store.WebhookOutcome{Seq: seq, At: now, Cancel: true})
		}
		if _, err := s.o.Log.Apply(store.Entry{At: now, Outcomes: &store.WebhookOutcomes{List: list}}); err != nil {
			s.o.Logger.Error("webhook update failed", "error", err)
		}
	}
	wait := s.o.Poll
	if !next.IsZero() {
		wait = min(max(next.Sub(now), 0), wait)
	}
	return wait
}

// Pages of the open index start small (a busy host's backlog is usually
// decided within its first rows) and grow for a long walk.
const (
	firstPage = 64
	maxPage   = 1024
)

// pickOpen walks the open index page by page, outside any transaction,
// and returns up to limit deliveries to send now, and the earliest next
// attempt among the rows read that are not due yet (zero if none). An open
// delivery about an incident holds back the later ones about it to the
// same subscriber (in flight, retrying or not yet due), so a receiver gets
// incident.created before its updates.
func (s *Service) pickOpen(now time.Time, limit int) ([]uint64, time.Time, error) {
	pick := s.picker()
	held := map[string]bool{}
	var seqs []uint64
	var next time.Time
	var after uint64
	for page := firstPage; ; page = min(2*page, maxPage) {
		refs, err := s.o.Store.OpenDeliveries(after, page)
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

// pickVerdict is what the loop says of a due delivery, by its sequence
// and subscription id, before anything of it is decoded.
type pickVerdict int

const (
	pickTake pickVerdict = iota
	pickSkip             // in flight, paused, or for a busy host
	// pickStop ends the walk: nothing more can be taken now (every host's
	// slots are full), so the rest of the index need not be read.
	pickStop
)

// picker decides, row by row of one walk, which open deliveries the loop
// takes: at most the free slots of each host, none while in flight or
// paused. left is how many more each host may take in this pass; open is
// how many hosts still have room. Once none has, the rest of the index is
// not walked: with 1,000 deliveries queued for one host, walking it all
// for each freed slot was most of the loop's time.
func (s *Service) picker() func(seq uint64, id string) pickVerdict {
	// Only the hosts in flight are read up front (at most Workers of
	// them), not every subscriber's host: a host's room is looked up when
	// a row of it is first met.
	open := len(s.hosts)
	for _, h := range s.slots.Full() {
		if s.hosts[h] {
			open--
		}
	}
	left := map[string]int{}
	room := func(h string) int {
		n, ok := left[h]
		if !ok {
			n = s.slots.Free(h)
			left[h] = n
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
		case open == 0:
			return pickStop // a finishing attempt wakes the loop
		case info.paused || info.other:
			return pickSkip // waits for an admin to resume it, or another kind's loop sends it
		case s.slots.Busy(seq, "") || room(info.host) <= 0:
			return pickSkip
		}
		if left[info.host]--; left[info.host] == 0 {
			open--
		}
		return pickTake
	}
}

// subInfo is what the delivery loop needs of a subscription to decide,
// without reading it, whether its deliveries may go now.
type subInfo struct {
	host   string
	paused bool
	other  bool // not a webhook subscriber
}

// refreshSubs re-reads subscriptions when any was created, deleted or
// changed state since the last read (called from the loop only).
func (s *Service) refreshSubs() {
	v := s.o.Store.SubscriptionsVersion()
	if s.subs != nil && v == s.subsVersion {
		return
	}
	subs, err := s.o.Store.Subscriptions()
	if err != nil {
		s.o.Logger.Error("webhook subscriptions unreadable", "error", err)
		return
	}
	s.subs = make(map[string]subInfo, len(subs))
	s.hosts = map[string]bool{}
	for _, sub := range subs {
		if sub.Kind != store.KindWebhook {
			s.subs[sub.ID] = subInfo{other: true}
			continue
		}
		h := splitHost(sub.URL)
		s.subs[sub.ID] = subInfo{host: h, paused: sub.State == store.SubPaused}
		s.hosts[h] = true
	}
	s.subsVersion = v
}

// attempt signs and sends one delivery. It is re-signed on every attempt,
// with this attempt's timestamp and every secret still valid.
func (s *Service) attempt(j store.WebhookJob) outcome {
	now := s.o.Now()
	o := outcome{WebhookOutcome: store.WebhookOutcome{Seq: j.Delivery.Seq, At: now}, host: splitHost(j.Sub.URL)}
	fail := func(err error, permanent bool) outcome {
		o.Error, o.Permanent = err.Error(), permanent
		return o
	}
	var secrets []string
	for _, sec := range j.Sub.Secrets {
		if sec.Until.IsZero() || sec.Until.After(now) {
			secrets = append(secrets, sec.Value)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.Sub.URL, bytes.NewReader(j.Body))
	if err != nil {
		return fail(err, true)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Outpost-Webhooks")
	if err := SetHeaders(req.Header, j.Delivery.MessageID, now, j.Body, secrets...); err != nil {
		return fail(err, true)
	}
	start := time.Now()
	resp, err := s.hc.Do(req)
	if err != nil {
		o.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
		return fail(err, notify.Judge(err).Permanent || errors.Is(err, ErrRefusedAddress))
	}
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	o.LatencyMS, o.Status = float64(time.Since(start).Microseconds())/1000, resp.StatusCode
	if err := notify.ClassifyHTTP(resp, "receiver"); err != nil {
		v := notify.Judge(err)
		o.RetryAfter = v.RetryAfter
		return fail(err, v.Permanent)
	}
	if j.Delivery.Type == VerifyType {
		var echo struct {
			Challenge string `json:"challenge"`
		}
		_ = json.Unmarshal(answer, &echo) // no JSON: no echo, which the rule reports
		o.Echo = echo.Challenge
	}
	return o
}

// record commits outcomes in batches (one transaction for all that
// arrived meanwhile), then frees their slots and wakes the loop.
func (s *Service) record(results <-chan outcome) {
	for {
		batch, ok := notify.Drain(results)
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

func (s *Service) commit(batch []outcome) {
	list := make([]store.WebhookOutcome, len(batch))
	for i, o := range batch {
		list[i] = o.WebhookOutcome
	}
	policy := store.WebhookPolicy{Schedule: s.o.Schedule, VerifySchedule: s.o.VerifySchedule, DisableAfter: s.o.DisableAfter}
	res, err := s.o.Log.Apply(store.Entry{At: batch[len(batch)-1].At, Outcomes: &store.WebhookOutcomes{Policy: policy, List: list}})
	if err != nil {
		// Not recorded: the deliveries stay open and are sent again, with
		// the same webhook-id (at least once).
		s.o.Logger.Error("webhook outcomes not recorded", "deliveries", len(batch), "error", err)
		return
	}
	for _, l := range res.Outcomes {
		for _, label := range l.Labels {
			switch label {
			case "verified":
				s.o.Logger.Info("webhook subscription verified", "subscription", l.Sub)
			case "disabled":
				s.o.Logger.Warn("webhook subscription disabled", "subscription", l.Sub, "reason", l.Reason)
			}
			if s.o.Observe != nil {
				s.o.Observe(store.WebhooksDest, label)
			}
		}
	}
}
