package store

import (
	"fmt"
	"maps"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The webhook delivery rule, applied to attempts' outcomes inside the log
// so that a subscription's state moves the same way on every node: 2xx
// delivers (a challenge needs its echo too); network errors, 5xx and 429
// retry on the schedule (429 after its Retry-After); other 4xx fail at
// once. A subscription failing for DisableAfter is disabled; one whose
// challenge never succeeds expires.

// Types of deliveries that are not events.
const (
	VerifyType = "subscription.verify"
	PingType   = "subscription.ping"
)

// The email rule, the same way inside the log: a 4xx answer or a broken
// session retries on EmailSchedule (store.Backoff); a 5xx for the
// recipient fails that delivery for good; DisableAfterPermanent such
// refusals in a row disable the subscriber, with the last as the reason
// (a mail that could not be built fails without counting); a delivery
// sent resets the count.

// WebhookPolicy is the rule's configuration for both kinds, carried with
// the outcomes.
type WebhookPolicy struct {
	Schedule       []time.Duration `json:"schedule"`
	VerifySchedule []time.Duration `json:"verify_schedule"`
	DisableAfter   time.Duration   `json:"disable_after"`
	// EmailSchedule is the wait before each retry of a mail.
	EmailSchedule []time.Duration `json:"email_schedule,omitempty"`
	// DisableAfterPermanent: permanent failures in a row that disable an
	// email subscriber; 0 means the package's DisableAfterPermanent.
	DisableAfterPermanent int `json:"disable_after_permanent,omitempty"`
}

// WebhookOutcomes are attempts' outcomes, committed together.
type WebhookOutcomes struct {
	Policy WebhookPolicy    `json:"policy"`
	List   []WebhookOutcome `json:"list"`
}

// WebhookOutcome is what one attempt came to, as the sender classified
// it; Cancel records a delivery not sent because its subscription is gone
// or no longer takes it.
type WebhookOutcome struct {
	Seq    uint64    `json:"seq"`
	At     time.Time `json:"at"`
	Cancel bool      `json:"cancel,omitempty"`
	// Sending marks a delivery as handed to its transport (email: before
	// DATA), committed for a whole batch; a crash after it re-sends the
	// delivery with the same message id (at least once).
	Sending bool `json:"sending,omitempty"`
	// Term, on a Sending mark, is the term of the leadership it was made
	// under (0: a single node); applied from a replicated log in another
	// term it is refused (ErrDeposed), as a channel's claim is.
	Term       uint64        `json:"term,omitempty"`
	Status     int           `json:"status,omitempty"`
	LatencyMS  float64       `json:"latency_ms,omitempty"`
	Error      string        `json:"error,omitempty"`
	Permanent  bool          `json:"permanent,omitempty"`
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	Echo       string        `json:"echo,omitempty"`
	// Unsent: the attempt failed on Outpost's side before anything went
	// out (the site key that signs the subscriber's links unreadable):
	// retried on the schedule, never held against the subscriber.
	Unsent bool `json:"unsent,omitempty"`
}

// OutcomeLabel is what the rule made of one outcome: "delivered",
// "retry" or "failed", then "verified", "expired" or "disabled" when the
// subscription moved (Reason says why).
type OutcomeLabel struct {
	Seq    uint64
	Sub    string
	Labels []string
	Reason string
}

const noEcho = `the answer did not echo the challenge (expected a JSON body {"challenge": "<data.challenge>"})`

// maxAttemptsTried bounds retries whatever the schedule says.
const maxAttemptsTried = 16

func applyOutcomes(tx *bolt.Tx, o WebhookOutcomes, term uint64, res *Result) error {
	for _, oc := range o.List {
		if oc.Sending && oc.Term != 0 && term != 0 && oc.Term != term {
			return refuse(fmt.Errorf("subscriber delivery %d: claimed in term %d, the log's is %d: %w", oc.Seq, oc.Term, term, ErrDeposed))
		}
	}
	dels, subsB := tx.Bucket(bucketWHDelivery), tx.Bucket(bucketSubs)
	subs := subCache{}
	states := map[string]SubState{} // as read, to tell a move
	for _, oc := range o.List {
		var d WebhookDelivery
		ok, err := getJSON(dels, be64(oc.Seq), &d)
		if err != nil {
			return fmt.Errorf("webhook delivery %d: %w", oc.Seq, err)
		}
		if !ok {
			continue // its subscription was deleted meanwhile
		}
		sub, err := subs.get(subsB, d.Sub)
		if err != nil {
			return err
		}
		if _, seen := states[d.Sub]; !seen && sub != nil {
			states[d.Sub] = sub.State
		}
		label := OutcomeLabel{Seq: oc.Seq, Sub: d.Sub}
		switch {
		case oc.Sending:
			if d.State.Open() {
				d.State = Sending
			}
		case oc.Cancel:
			cancelDelivery(&d, sub, oc.At)
		default:
			label.Labels, label.Reason = o.Policy.record(oc, &d, sub)
		}
		res.Outcomes = append(res.Outcomes, label)
		if err := putDelivery(tx, &d); err != nil {
			return err
		}
	}
	for _, id := range slices.Sorted(maps.Keys(subs)) {
		if sub := subs[id]; sub != nil {
			res.subsMoved = res.subsMoved || sub.State != states[id]
			if err := putJSON(subsB, []byte(id), sub); err != nil {
				return err
			}
		}
	}
	return nil
}

func cancelDelivery(d *WebhookDelivery, sub *Subscription, at time.Time) {
	d.State, d.NextAt = Cancelled, time.Time{}
	reason := "subscription deleted"
	if sub != nil {
		reason = "subscription " + string(sub.State)
	}
	d.Record(Attempt{At: at, Error: "not sent: " + reason})
}

// record applies sub's kind's rule to one attempt of d, to sub (nil:
// deleted).
func (p WebhookPolicy) record(o WebhookOutcome, d *WebhookDelivery, sub *Subscription) ([]string, string) {
	if sub != nil && sub.Kind == KindEmail {
		return p.recordEmail(o, d, sub)
	}
	verify := d.Type == VerifyType
	failure := o.Error
	if failure == "" && verify && sub != nil && (o.Echo == "" || o.Echo != sub.Challenge) {
		failure = noEcho
	}
	d.Record(Attempt{At: o.At, Status: o.Status, LatencyMS: o.LatencyMS, Error: failure})
	if sub == nil {
		d.State, d.NextAt = Cancelled, time.Time{}
		return nil, ""
	}
	if failure == "" {
		d.State, d.NextAt = Sent, time.Time{}
		if verify {
			sub.State, sub.VerifiedAt, sub.StateAt, sub.Challenge = SubActive, o.At, o.At, ""
			return []string{"delivered", "verified"}, ""
		}
		sub.FailingSince = time.Time{}
		return []string{"delivered"}, ""
	}
	retry := Backoff{Steps: p.Schedule}
	if verify {
		retry = Backoff{Steps: p.VerifySchedule}
	}
	if o.Unsent {
		// It never left: retried (past the schedule: failed), and its
		// subscriber is not held to it, since no receiver failed.
		return retryLabel(retryOrFail(d, retry, o.At, 0, false)), ""
	}
	out := retryLabel(retryOrFail(d, retry, o.At, o.RetryAfter, o.Permanent))
	if verify {
		if d.State == Failed {
			sub.State, sub.StateAt, sub.Reason = SubExpired, o.At, "not verified: "+failure
			out = append(out, "expired")
		}
		return out, sub.Reason
	}
	if sub.FailingSince.IsZero() {
		sub.FailingSince = o.At
	}
	if sub.State == SubActive && o.At.Sub(sub.FailingSince) >= p.DisableAfter {
		sub.State, sub.StateAt = SubDisabled, o.At
		sub.Reason = fmt.Sprintf("deliveries failing since %s; last error: %s", sub.FailingSince.UTC().Format(time.RFC3339), failure)
		out = append(out, "disabled")
	}
	return out, sub.Reason
}

// retryOrFail schedules d's next attempt on retry, or fails d when the
// failure is permanent or the schedule or the attempts run out; it
// reports whether d is retried.
func retryOrFail(d *WebhookDelivery, retry Backoff, at time.Time, retryAfter time.Duration, permanent bool) bool {
	n := len(d.Attempts)
	if wait, ok := retry.Next(n, retryAfter, 1); !permanent && ok && n < maxAttemptsTried {
		d.State, d.NextAt = Pending, at.Add(wait)
		return true
	}
	d.State, d.NextAt = Failed, time.Time{}
	return false
}

func retryLabel(retried bool) []string {
	if retried {
		return []string{"retry"}
	}
	return []string{"failed"}
}

// recordEmail is the email rule (above) for one attempt; an Unsent one is
// never permanent, so it retries and is not counted.
func (p WebhookPolicy) recordEmail(o WebhookOutcome, d *WebhookDelivery, sub *Subscription) ([]string, string) {
	d.Record(Attempt{At: o.At, Status: o.Status, LatencyMS: o.LatencyMS, Error: o.Error})
	if o.Error == "" {
		d.State, d.NextAt, sub.PermanentFailures = Sent, time.Time{}, 0
		return []string{"delivered"}, ""
	}
	if retryOrFail(d, Backoff{Steps: p.EmailSchedule}, o.At, o.RetryAfter, o.Permanent) {
		return []string{"retry"}, ""
	}
	if !o.Permanent || o.Status < 500 {
		// Retries ran out, or the mail could not be built: no server
		// refused the address, so it is not held against it.
		return []string{"failed"}, ""
	}
	sub.PermanentFailures++
	limit := p.DisableAfterPermanent
	if limit <= 0 {
		limit = DisableAfterPermanent
	}
	if sub.State == SubActive && sub.PermanentFailures >= limit {
		sub.State, sub.StateAt = SubDisabled, o.At
		sub.Reason = fmt.Sprintf("%d mails in a row refused for good; last: %s", sub.PermanentFailures, o.Error)
		return []string{"failed", "disabled"}, sub.Reason
	}
	return []string{"failed"}, ""
}
