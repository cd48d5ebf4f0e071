package email

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/outpost-status/outpost/status/notify"
	"github.com/outpost-status/outpost/status/statuspage"
	"github.com/outpost-status/outpost/status/store"
)

// Links builds a subscriber's manage and one-click unsubscribe links when
// a mail is composed (tokens are stored only as hashes, so a link cannot
// be read back from the file).
type Links interface {
	For(sub store.Subscription) (manage, unsubscribe string, err error)
}

// Sender is the email kind's transport of the one subscriber loop
// (notify.Subscribers): it composes each mail at send time from the
// event stored with the announcement and hands a batch to the SMTP
// Transport (many messages per session, bounded sessions); the loop keeps
// at most PerKey mails in flight per recipient domain.
type Sender struct {
	Composer  *Composer
	Transport *Transport
	Links     Links
	Now       func() time.Time
}

var _ notify.Transport = (*Sender)(nil)

// Kind is email.
func (*Sender) Kind() store.SubKind { return store.KindEmail }

// Fan picks the confirmed subscribers that want the event (the rule the
// fan-out entry checks again).
func (*Sender) Fan(r store.OutboxRow, subs []store.Subscription) store.FannedRow {
	var f store.FannedRow
	for i := range subs {
		if subs[i].EmailWants(r.Event) {
			f.Subs = append(f.Subs, subs[i].ID)
		}
	}
	return f
}

// Key is the recipient's domain: the per-domain throttle.
func (*Sender) Key(sub store.Subscription) string {
	_, domain, _ := strings.Cut(sub.Address, "@")
	return strings.ToLower(domain)
}

// Ready sends to active subscribers, keeps a paused one's mail, and
// cancels the rest.
func (*Sender) Ready(j store.WebhookJob) notify.Readiness {
	switch j.Sub.State {
	case store.SubActive:
		return notify.Send
	case store.SubPaused:
		return notify.Wait
	}
	return notify.Cancel
}

// Send composes and sends a batch; a mail that cannot be built fails for
// good on its own, and the server's answers map onto the loop's verdicts
// (4xx and broken sessions retry, 5xx for the recipient is permanent).
func (s *Sender) Send(ctx context.Context, jobs []store.WebhookJob) []store.WebhookOutcome {
	out := make([]store.WebhookOutcome, len(jobs))
	var msgs []Message
	var idx []int
	for i, j := range jobs {
		out[i] = store.WebhookOutcome{Seq: j.Delivery.Seq, At: s.Now()}
		m, err := s.compose(j)
		if err != nil {
			// A mail that cannot be built fails for good, unless what it
			// lacks is Outpost's to fix (a site key): then it is retried.
			unsent := errors.Is(err, ErrNoSiteKey)
			out[i].Error, out[i].Permanent, out[i].Unsent = err.Error(), !unsent, unsent
			continue
		}
		msgs, idx = append(msgs, m), append(idx, i)
	}
	if len(msgs) == 0 {
		return out
	}
	start := time.Now()
	res := s.Transport.Send(ctx, msgs)
	latency := float64(time.Since(start).Microseconds()) / 1000 / float64(len(msgs))
	for k, o := range res {
		oc := &out[idx[k]]
		oc.At, oc.Status, oc.LatencyMS = s.Now(), o.Code, latency
		if o.Err != nil {
			v := o.Verdict()
			oc.Error, oc.Permanent, oc.RetryAfter = o.Err.Error(), v.Permanent, v.RetryAfter
		}
	}
	return out
}

// compose builds one subscriber's mail of the job's event.
func (s *Sender) compose(j store.WebhookJob) (Message, error) {
	if j.Event == nil {
		return Message{}, errors.New("email: the announcement's event is gone (pruned)")
	}
	sub := *j.Sub
	manage, unsubscribe, err := s.Links.For(sub)
	if err != nil {
		return Message{}, err
	}
	in := Incident{Event: *j.Event, To: Subscriber{ID: sub.ID, Address: sub.Address}, Manage: manage, Unsubscribe: unsubscribe,
		Names: statuspage.EventNames(*j.Event)}
	if inc := j.Event.Incident; inc != nil {
		// Every mail of an incident to a subscriber answers the first one.
		in.FirstEventID = inc.FirstEvent
	}
	return s.Composer.Incident(in)
}

// addressFree is an error whose text names no address (a server's answer
// often repeats the recipient's) though it still unwraps to the cause:
// the callers that log it need not know that mail errors carry addresses.
type addressFree struct{ err error }

func (e addressFree) Error() string { return notify.RedactAddresses(e.err.Error()) }
func (e addressFree) Unwrap() error { return e.err }
