// Package probes runs synthetic checks against targets and schedules them.
//
// A failed target is data, not an error: every probe returns a Result whose
// Outcome and Reason say what was seen. A Go error from this package means the
// check itself is misconfigured.
package probes

import (
	"encoding/json"
	"fmt"
	"time"
)

// Outcome is the verdict of one probe run.
type Outcome uint8

// The outcomes, ordered from best to worst so that max() picks the worst.
const (
	Up Outcome = iota
	Degraded
	Down
)

var outcomeNames = [...]string{Up: "up", Degraded: "degraded", Down: "down"}

// String returns the lower-case name used in JSON, logs and the CLI.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// MarshalJSON writes the outcome as its name.
func (o Outcome) MarshalJSON() ([]byte, error) { return json.Marshal(o.String()) }

// UnmarshalJSON reads an outcome name.
func (o *Outcome) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	for i, n := range outcomeNames {
		if n == s {
			*o = Outcome(i)
			return nil
		}
	}
	return fmt.Errorf("unknown outcome %q", s)
}

// Reason is why a run was not Up, from a fixed vocabulary so that the engine,
// metrics and public text can rely on it. ReasonOK is used for Up results.
type Reason string

// The reason vocabulary.
const (
	ReasonOK                Reason = "ok"
	ReasonTimeout           Reason = "timeout"
	ReasonConnectionRefused Reason = "connection_refused"
	ReasonConnectionError   Reason = "connection_error"
	ReasonDNSError          Reason = "dns_error"
	ReasonTLSError          Reason = "tls_error"
	ReasonCertExpiring      Reason = "cert_expiring"
	ReasonCertExpired       Reason = "cert_expired"
	ReasonStatusMismatch    Reason = "status_mismatch"
	ReasonBodyMismatch      Reason = "body_mismatch"
	ReasonSlow              Reason = "slow"
	ReasonPacketLoss        Reason = "packet_loss"
	ReasonNotServing        Reason = "not_serving"
	ReasonServiceUnknown    Reason = "service_unknown"
	ReasonDomainExpiring    Reason = "domain_expiring"
	ReasonDomainExpired     Reason = "domain_expired"
	ReasonBannerMismatch    Reason = "banner_mismatch"
	ReasonRcodeMismatch     Reason = "rcode_mismatch"
	ReasonAnswerMismatch    Reason = "answer_mismatch"
	ReasonMissedHeartbeat   Reason = "missed_heartbeat"
	ReasonReportedFailure   Reason = "reported_failure"
	ReasonInternal          Reason = "internal_error"
	// ReasonBodyTooLarge: the peer sent more than the run may read (a
	// body, a message, headers); reading stops there.
	ReasonBodyTooLarge Reason = "body_too_large"
)

// Result is what one probe run saw.
type Result struct {
	Outcome Outcome       `json:"outcome"`
	Reason  Reason        `json:"reason"`
	Latency time.Duration `json:"-"`
	// Message is a short operator-facing explanation (may contain targets and
	// raw errors, so it never goes to public surfaces).
	Message string `json:"message,omitempty"`
	// Details holds kind-specific facts: HTTP phase timings, status code,
	// certificate issuer and expiry, DNS answers.
	Details map[string]any `json:"details,omitempty"`
	// Screenshot is a PNG of the page when a browser check failed, kept
	// for operators (the last few per check).
	Screenshot []byte `json:"-"`
}

// up, degraded and down build Results; the constructors keep Reason and
// Outcome consistent across probe kinds.
func up(latency time.Duration) Result {
	return Result{Outcome: Up, Reason: ReasonOK, Latency: latency}
}

func down(reason Reason, latency time.Duration, format string, args ...any) Result {
	return Result{Outcome: Down, Reason: reason, Latency: latency, Message: fmt.Sprintf(format, args...)}
}

func degraded(reason Reason, latency time.Duration, format string, args ...any) Result {
	return Result{Outcome: Degraded, Reason: reason, Latency: latency, Message: fmt.Sprintf(format, args...)}
}

// detail records a kind-specific fact, creating the map on first use.
func (r *Result) detail(key string, v any) {
	if r.Details == nil {
		r.Details = make(map[string]any, 4)
	}
	r.Details[key] = v
}

// withDetails copies details gathered during the run into the result.
func (r Result) withDetails(d map[string]any) Result {
	for k, v := range d {
		r.detail(k, v)
	}
	return r
}

// slowCheck turns an Up result into Degraded when it exceeded maxLatency.
func slowCheck(r Result, maxLatency time.Duration) Result {
	if r.Outcome == Up && maxLatency > 0 && r.Latency > maxLatency {
		r.Outcome = Degraded
		r.Reason = ReasonSlow
		r.Message = fmt.Sprintf("took %s, above max_latency %s", r.Latency.Round(time.Millisecond), maxLatency)
	}
	return r
}
