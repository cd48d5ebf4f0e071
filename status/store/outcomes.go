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

// WebhookPolicy is the rule's configuration, carried with the outcomes.
type WebhookPolicy struct {
	Schedule       []time.Duration `json:"schedule"`
	VerifySchedule []time.Duration `json:"verify_schedule"`
	DisableAfter   time.Duration   `json:"disable_after"`
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
	Seq        uint64        `json:"seq"`
	At         time.Time     `json:"at"`
	Cancel     bool          `json:"cancel,omitempty"`
	Status     int           `json:"status,omitempty"`
	LatencyMS  float64       `json:"latency_ms,omitempty"`
	Error      string        `json:"error,omitempty"`
	Permanent  bool          `json:"permanent,omitempty"`
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	Echo       string        `json:"echo,omitempty"`
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

func applyOutcomes(tx *bolt.Tx, o WebhookOutcomes, res *Result) error {
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
		if oc.Cancel {
			cancelDelivery(&d, sub, oc.At)
		} else {
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

// record applies the rule to one attempt of d, to sub (nil: deleted).
func (p WebhookPolicy) record(o WebhookOutcome, d *WebhookDelivery, sub *Subscription) ([]string, string) {
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
	out := []string{"failed"}
	n := len(d.Attempts)
	if wait, ok := retry.Next(n, o.RetryAfter, 1); !o.Permanent && ok && n < maxAttemptsTried {
		d.State, d.NextAt = Pending, o.At.Add(wait)
		out = []string{"retry"}
	} else {
		d.State, d.NextAt = Failed, time.Time{}
	}
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
