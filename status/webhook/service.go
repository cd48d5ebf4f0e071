package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/notify"
	"github.com/outpost-status/outpost/status/statuspage"
	"github.com/outpost-status/outpost/status/store"
)

// Events are the event types subscribers can receive; the default is all.
func Events() []status.EventType {
	return []status.EventType{
		status.IncidentCreated, status.IncidentUpdated, status.IncidentResolved,
		status.ComponentStatusChanged,
		status.MaintenanceScheduled, status.MaintenanceStarted, status.MaintenanceCompleted, status.MaintenanceCancelled,
	}
}

// VerifyType is the challenge event's type; PingType is a test delivery
// a subscriber asks for.
const (
	VerifyType = store.VerifyType
	PingType   = store.PingType
)

// Options configures a Service.
type Options struct {
	Store *store.Store
	// Log is the one way in for durable changes (Store itself on one
	// node, raft in a cluster). Default Store.
	Log    store.Log
	Logger *slog.Logger
	Now    func() time.Time
	// Site names the page in bodies of events stored without their data
	// (by an Outpost before events carried it: status.Event.Data).
	Site statuspage.Site
	// Components reports whether a component id exists (for validation).
	Components func(id string) bool

	AllowHTTP    bool
	AllowPrivate bool
	PerClient    int           // subscriptions per client address; default 5
	Workers      int           // deliveries in flight; default 64
	PerHost      int           // deliveries in flight per host; default 4
	Timeout      time.Duration // per attempt; default 15 s
	// Schedule is the wait before each retry; attempts beyond it fail.
	Schedule []time.Duration
	// VerifySchedule is Schedule for the challenge.
	VerifySchedule []time.Duration
	// DisableAfter: a subscription whose deliveries have failed this long
	// without a success is disabled. Default 72 h.
	DisableAfter time.Duration
	// Overlap is how long a rotated-out secret keeps signing. Default 24 h.
	Overlap time.Duration
	// Poll bounds the delivery loop's sleep. Default 1 s.
	Poll time.Duration
	// Claim commits a sending mark for each batch before it goes: in a
	// cluster the leader's claim, which carries its term (the node's Log
	// stamps it), so a deposed leader's is refused and it sends nothing
	// more. One node needs none: a re-send after a crash carries the same
	// webhook-id.
	Claim bool
	// Client overrides the delivery client (tests inject a resolver).
	Client *http.Client
	// Observe counts delivery outcomes by destination (metrics), as the
	// channels' Dispatcher does; may be nil.
	Observe func(dest, result string)
}

// DefaultSchedule is the retry schedule: about 28 hours in all.
func DefaultSchedule() []time.Duration {
	return []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
}

// DefaultVerifySchedule retries the challenge three times in half an hour.
func DefaultVerifySchedule() []time.Duration {
	return []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute}
}

// Service owns webhook subscriptions; the one subscriber loop
// (notify.Subscribers) delivers to them through its HTTP transport.
type Service struct {
	o    Options
	hc   *http.Client
	loop *notify.Subscribers
}

// New prepares a Service; nothing is sent before Run.
func New(o Options) *Service {
	if o.Log == nil {
		o.Log = o.Store
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.PerClient == 0 {
		o.PerClient = 5
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.Schedule == nil {
		o.Schedule = DefaultSchedule()
	}
	if o.VerifySchedule == nil {
		o.VerifySchedule = DefaultVerifySchedule()
	}
	if o.DisableAfter == 0 {
		o.DisableAfter = 72 * time.Hour
	}
	if o.Overlap == 0 {
		o.Overlap = 24 * time.Hour
	}
	hc := o.Client
	if hc == nil {
		hc = NewClient(ClientOptions{AllowPrivate: o.AllowPrivate, Timeout: o.Timeout})
	}
	s := &Service{o: o, hc: hc}
	s.loop = notify.NewSubscribers(notify.SubscribersOptions{Store: o.Store, Log: o.Log, Logger: o.Logger, Now: o.Now,
		Transport: transport{s}, Workers: o.Workers, PerKey: o.PerHost, Poll: o.Poll, Retention: retention, Observe: o.Observe, MarkSending: o.Claim,
		Policy: store.WebhookPolicy{Schedule: o.Schedule, VerifySchedule: o.VerifySchedule, DisableAfter: o.DisableAfter}})
	return s
}

// Wake tells the delivery loop that new work may be waiting.
func (s *Service) Wake() { s.loop.Wake() }

// Wants reports whether an event goes to webhook subscribers at all (the
// router gives it the webhooks destination).
func Wants(ev status.Event) bool { return slices.Contains(Events(), ev.Type) }

// Error is a request the caller must fix; Field names the part at fault.
type Error struct {
	Field string
	Msg   string
}

func (e *Error) Error() string { return e.Field + ": " + e.Msg }

func bad(field, format string, args ...any) error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Request is a new subscription as a client asks for it.
type Request struct {
	URL        string   `json:"url"`
	Components []string `json:"components,omitempty"`
	Events     []string `json:"events,omitempty"`
	Format     string   `json:"format,omitempty"` // FormatEnvelope (default) or FormatStatuspage
}

// The body formats a subscriber chooses from.
const (
	// FormatEnvelope is the Standard Webhooks envelope: type, sequence,
	// timestamp, and the Statuspage-shaped data object under "data".
	FormatEnvelope = "envelope"
	// FormatStatuspage is Statuspage's own body: meta, page, and incident
	// or component and component_update at the top level, still signed
	// with Standard Webhooks headers.
	FormatStatuspage = "statuspage"
)

// Created is the answer to a new subscription: the only time the secret
// and the unsubscribe token are shown.
type Created struct {
	ID               string   `json:"id"`
	URL              string   `json:"url"`
	State            string   `json:"state"`
	Secret           string   `json:"secret"`
	UnsubscribeToken string   `json:"unsubscribe_token"`
	Components       []string `json:"components,omitempty"`
	Events           []string `json:"events,omitempty"`
	Format           string   `json:"format"`
}

const maxURL = 2048

// challengeDelay is how long after subscribing the challenge is first sent.
const challengeDelay = time.Second

// Validate checks a request without storing anything.
func (s *Service) Validate(r Request) error {
	if r.URL == "" {
		return bad("url", "is required")
	}
	if len(r.URL) > maxURL {
		return bad("url", "must be at most %d characters", maxURL)
	}
	u, err := url.Parse(r.URL)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return bad("url", "must be an absolute URL such as https://example.com/hooks/status")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && s.o.AllowHTTP:
	case u.Scheme == "http":
		return bad("url", "must use https (this server does not accept http:// subscribers)")
	default:
		return bad("url", "must be an https URL, got scheme %q", u.Scheme)
	}
	if u.User != nil {
		return bad("url", "must not contain credentials; authenticate deliveries with the signature instead")
	}
	if u.Fragment != "" {
		return bad("url", "must not contain a fragment")
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil && !s.o.AllowPrivate && Refused(ip) {
		return bad("url", "points at a private, loopback or reserved address")
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		if !s.o.AllowPrivate {
			return bad("url", "points at a private, loopback or reserved address")
		}
	}
	if r.Format != "" && r.Format != FormatEnvelope && r.Format != FormatStatuspage {
		return bad("format", "must be %s or %s", FormatEnvelope, FormatStatuspage)
	}
	if len(r.Components) > 100 {
		return bad("components", "at most 100 components")
	}
	for i, c := range r.Components {
		if s.o.Components != nil && !s.o.Components(c) {
			return bad(fmt.Sprintf("components[%d]", i), "unknown component %q", c)
		}
	}
	for i, e := range r.Events {
		if !slices.Contains(Events(), status.EventType(e)) {
			return bad(fmt.Sprintf("events[%d]", i), "unknown event %q (use %s)", e, eventList())
		}
	}
	return nil
}

func eventList() string {
	var out []string
	for _, e := range Events() {
		out = append(out, string(e))
	}
	return strings.Join(out, ", ")
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}

// Subscribe stores a pending subscription for client (its address) and
// queues the challenge.
func (s *Service) Subscribe(r Request, client string) (Created, error) {
	if err := s.Validate(r); err != nil {
		return Created{}, err
	}
	now := s.o.Now()
	sub, c, err := newSubscription(r, client, now)
	if err != nil {
		return Created{}, err
	}
	sub.Challenge = base64.RawURLEncoding.EncodeToString(random(24))
	body, err := json.Marshal(envelope{Type: VerifyType, Timestamp: stamp(now),
		Data: map[string]string{"challenge": sub.Challenge, "subscription_id": sub.ID}})
	if err != nil {
		return Created{}, err
	}
	// The challenge goes out a moment after the answer, so the subscriber
	// has its secret in hand to check the challenge's signature.
	verify := store.WebhookDelivery{MessageID: "msg_verify_" + sub.ID, Type: VerifyType, Body: body, State: store.Pending,
		NextAt: now.Add(challengeDelay), CreatedAt: now}
	if _, err := s.o.Log.Apply(store.Entry{At: now, Subscribe: &store.NewSubscription{Sub: sub, Verify: verify, PerClient: s.o.PerClient}}); err != nil {
		if errors.Is(err, store.ErrTooManySubscriptions) {
			return Created{}, err
		}
		return Created{}, fmt.Errorf("store subscription: %w", err)
	}
	s.o.Logger.Info("webhook subscription created; verifying", "subscription", sub.ID, "host", hostOf(r.URL))
	return c, nil
}

// newSubscription draws a pending subscription's id, secret and owner's
// token, and the answer that shows them once.
func newSubscription(r Request, client string, now time.Time) (store.Subscription, Created, error) {
	id := "sub_" + hex.EncodeToString(random(10))
	token := "ust_" + base64.RawURLEncoding.EncodeToString(random(32))
	secret, err := NewSecret()
	if err != nil {
		return store.Subscription{}, Created{}, err
	}
	format := r.Format
	if format == FormatEnvelope {
		format = "" // the default, stored as nothing
	}
	sub := store.Subscription{ID: id, URL: r.URL, Components: r.Components, Events: r.Events, Format: format, State: store.SubPending,
		Secrets: []store.Secret{{Value: secret}}, TokenHash: store.HashToken(token), Client: client, CreatedAt: now, StateAt: now}
	return sub, Created{ID: id, URL: r.URL, State: string(sub.State), Secret: secret, UnsubscribeToken: token, Components: r.Components,
		Events: r.Events, Format: formatName(format)}, nil
}

func formatName(f string) string {
	if f == "" {
		return FormatEnvelope
	}
	return f
}

// ErrState is returned for a change the subscription's state forbids.
var ErrState = store.ErrSubState

// View is a subscription as the API shows it: no secrets, no token hash.
type View struct {
	ID           string    `json:"id"`
	URL          string    `json:"url"`
	State        string    `json:"state"`
	Components   []string  `json:"components"`
	Events       []string  `json:"events"`
	Client       string    `json:"client,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	VerifiedAt   time.Time `json:"verified_at,omitzero"`
	FailingSince time.Time `json:"failing_since,omitzero"`
	StateAt      time.Time `json:"state_changed_at"`
	// Reason says why it was disabled or expired, in the public
	// vocabulary (reasons.go); ReasonDetail is the raw text, for admins.
	Reason       string `json:"reason,omitempty"`
	ReasonDetail string `json:"reason_detail,omitempty"`
	Secrets      int    `json:"signing_secrets"`
	Format       string `json:"format"`
}

// ViewOf shows sub; client addresses and raw errors only to admins.
func ViewOf(sub store.Subscription, admin bool) View {
	v := View{ID: sub.ID, URL: sub.URL, State: string(sub.State), Components: orEmpty(sub.Components), Events: orEmpty(sub.Events),
		CreatedAt: sub.CreatedAt, VerifiedAt: sub.VerifiedAt, FailingSince: sub.FailingSince, StateAt: sub.StateAt,
		Reason: subReason(sub.Reason, admin), Secrets: len(sub.Secrets), Format: formatName(sub.Format)}
	if admin {
		v.Client, v.ReasonDetail = sub.Client, sub.Reason
	}
	return v
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// splitHost is the per-host concurrency key: host and port.
func splitHost(raw string) string {
	h := hostOf(raw)
	if host, port, err := net.SplitHostPort(h); err == nil {
		return strings.ToLower(host) + ":" + port
	}
	return strings.ToLower(h)
}

// Run delivers until ctx ends (notify.Subscribers.Run).
func (s *Service) Run(ctx context.Context) { s.loop.Run(ctx) }
