package webhook

import (
	"strings"
	"time"

	"github.com/outpost-status/outpost/status/store"
)

// Why a delivery failed. The raw error names the address a host name
// resolved to inside Outpost's network ("dial tcp 10.0.3.7:8500: ... is
// not a public address"), which would make the subscription API a DNS
// oracle; so views carry one of these, and the raw text stays with admins.
// The fine reasons would still tell a name inside that exists
// (refused_address) from one that does not (dns_error), so the anonymous
// owner gets ReasonUnreachableHost for both and for connection_refused
// (see PublicReason); admins get the fine one. The owner still gets the
// HTTP status their receiver answered.
const (
	ReasonUnreachableHost   = "unreachable_host"   // public: refused address, DNS error or nothing listening
	ReasonRefusedAddress    = "refused_address"    // resolves to an address deliveries may not reach
	ReasonTimeout           = "timeout"            // no answer in time
	ReasonConnectionRefused = "connection_refused" // nothing listening
	ReasonConnectionError   = "connection_error"   // reset, unreachable, closed early
	ReasonDNSError          = "dns_error"          // the name did not resolve
	ReasonTLSError          = "tls_error"          // handshake or certificate
	ReasonHTTPStatus        = "http_status"        // the receiver answered other than 2xx (see status)
	ReasonNoEcho            = "no_challenge_echo"  // the challenge's answer did not echo it
	ReasonCancelled         = "cancelled"          // not sent: the subscription went away or stopped taking it
	ReasonDeliveryError     = "delivery_error"     // anything else
)

// reasonRules map the raw texts of failures (written by attempt, the
// delivery rule in status/store and the Go HTTP client) to reasons; the
// first rule with a match wins, so more specific ones come first (a
// refused address is also a failed dial; a TLS handshake timeout is a
// timeout).
var reasonRules = []struct {
	reason string
	marks  []string
}{
	{ReasonRefusedAddress, []string{ErrRefusedAddress.Error()}},
	{ReasonNoEcho, []string{"did not echo the challenge"}},
	{ReasonCancelled, []string{"not sent: "}},
	{ReasonHTTPStatus, []string{"receiver: HTTP "}},
	{ReasonTimeout, []string{"Client.Timeout exceeded", "i/o timeout", "context deadline exceeded", "timeout awaiting", "handshake timeout"}},
	{ReasonTLSError, []string{"tls: ", "x509: ", "certificate"}},
	{ReasonDNSError, []string{"no such host", "resolve ", "server misbehaving"}},
	{ReasonConnectionRefused, []string{"connection refused"}},
	{ReasonConnectionError, []string{"connection reset", "EOF", "broken pipe", "unreachable", "no route to host", "dial tcp", "closed"}},
}

// Reason is the public reason for a failure's raw text ("" for none).
func Reason(raw string) string {
	if raw == "" {
		return ""
	}
	// The client's errors start with the request (`Post "URL": `), and a
	// URL's words must not decide the reason.
	if rest, ok := strings.CutPrefix(raw, `Post "`); ok {
		if _, after, found := strings.Cut(rest, `": `); found {
			raw = after
		}
	}
	for _, r := range reasonRules {
		for _, m := range r.marks {
			if strings.Contains(raw, m) {
				return r.reason
			}
		}
	}
	return ReasonDeliveryError
}

// PublicReason is the reason for a failure's raw text as an anonymous
// owner is told it: the failures a host name's existence inside Outpost's
// network decides are one reason.
func PublicReason(raw string) string {
	switch r := Reason(raw); r {
	case ReasonRefusedAddress, ReasonDNSError, ReasonConnectionRefused:
		return ReasonUnreachableHost
	default:
		return r
	}
}

// reasonFor is the reason admin, or else an anonymous owner, is told.
func reasonFor(raw string, admin bool) string {
	if admin {
		return Reason(raw)
	}
	return PublicReason(raw)
}

// subReason is the reason a subscription was disabled or expired, as
// admin or else its owner is told: the reason of the last failure its
// text ends with.
func subReason(raw string, admin bool) string {
	for _, lead := range []string{"; last error: ", "not verified: "} {
		if _, after, ok := strings.Cut(raw, lead); ok {
			return reasonFor(after, admin)
		}
	}
	return reasonFor(raw, admin)
}

// LogEntry is one delivery in a subscription's log.
type LogEntry struct {
	Seq       uint64              `json:"seq"`
	Sub       string              `json:"subscription"`
	MessageID string              `json:"message_id"`
	Type      string              `json:"type"`
	EventSeq  uint64              `json:"event_seq,omitempty"`
	Incident  string              `json:"incident,omitempty"`
	State     store.DeliveryState `json:"state"`
	NextAt    time.Time           `json:"next_at,omitzero"`
	CreatedAt time.Time           `json:"created_at"`
	Attempts  []AttemptView       `json:"attempts"`
}

// AttemptView is one attempt: its reason for everyone, its raw error only
// for admins.
type AttemptView struct {
	At        time.Time `json:"at"`
	Status    int       `json:"status,omitempty"` // 0 when no answer came back
	LatencyMS float64   `json:"latency_ms"`
	Reason    string    `json:"reason,omitempty"`
	Error     string    `json:"error,omitempty"`
}

// LogOf shows a subscription's deliveries; raw errors only to admins.
func LogOf(ds []store.WebhookDelivery, admin bool) []LogEntry {
	out := make([]LogEntry, 0, len(ds))
	for _, d := range ds {
		e := LogEntry{Seq: d.Seq, Sub: d.Sub, MessageID: d.MessageID, Type: d.Type, EventSeq: d.EventSeq, Incident: d.Incident,
			State: d.State, NextAt: d.NextAt, CreatedAt: d.CreatedAt, Attempts: make([]AttemptView, 0, len(d.Attempts))}
		for _, a := range d.Attempts {
			v := AttemptView{At: a.At, Status: a.Status, LatencyMS: a.LatencyMS, Reason: reasonFor(a.Error, admin)}
			if admin {
				v.Error = a.Error
			}
			e.Attempts = append(e.Attempts, v)
		}
		out = append(out, e)
	}
	return out
}
