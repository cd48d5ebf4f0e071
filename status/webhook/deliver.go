package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
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

// transport is the webhook kind's way out of the one subscriber loop
// (notify.Subscribers): Standard Webhooks signing over the SSRF-guarded
// client, one delivery per Send.
type transport struct{ s *Service }

var _ notify.Transport = transport{}

func (transport) Kind() store.SubKind { return store.KindWebhook }

// Fan decides a row's body and subscribers, outside any transaction; a
// row whose body cannot be made fails on its own.
func (t transport) Fan(r store.OutboxRow, subs []store.Subscription) store.FannedRow {
	body, to, err := t.s.fan(r.Event, subs)
	if err != nil {
		return store.FannedRow{Error: err.Error()}
	}
	return store.FannedRow{Body: body, Subs: to}
}

// Key is the per-host slot key: host and port.
func (transport) Key(sub store.Subscription) string { return splitHost(sub.URL) }

// Ready: the challenge goes to a pending subscription, events to an
// active one; a paused one keeps its deliveries.
func (transport) Ready(j store.WebhookJob) notify.Readiness {
	verify := j.Delivery.Type == VerifyType
	switch {
	case j.Sub.State == store.SubPaused:
		return notify.Wait
	case verify && j.Sub.State != store.SubPending, !verify && j.Sub.State != store.SubActive:
		return notify.Cancel
	}
	return notify.Send
}

func (t transport) Send(_ context.Context, jobs []store.WebhookJob) []store.WebhookOutcome {
	out := make([]store.WebhookOutcome, len(jobs))
	for i, j := range jobs {
		out[i] = t.s.attempt(j)
	}
	return out
}

// attempt signs and sends one delivery. It is re-signed on every attempt,
// with this attempt's timestamp and every secret still valid.
func (s *Service) attempt(j store.WebhookJob) store.WebhookOutcome {
	now := s.o.Now()
	o := store.WebhookOutcome{Seq: j.Delivery.Seq, At: now}
	fail := func(err error, permanent bool) store.WebhookOutcome {
		o.Error, o.Permanent = err.Error(), permanent
		return o
	}
	var secrets []string
	for _, sec := range j.Sub.Secrets {
		if sec.Until.IsZero() || sec.Until.After(now) {
			secrets = append(secrets, sec.Value)
		}
	}
	body, err := s.bodyFor(j)
	if err != nil {
		o.Unsent = errors.Is(err, errNoSiteKey) // ours: retried, not held against the receiver
		return fail(err, !o.Unsent)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.Sub.URL, bytes.NewReader(body))
	if err != nil {
		return fail(err, true)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Outpost-Webhooks")
	if err := SetHeaders(req.Header, j.Delivery.MessageID, now, body, secrets...); err != nil {
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
