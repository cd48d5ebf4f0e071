package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// received is one request a receiver accepted as authentic.
type received struct {
	ID, Type  string
	Path      string // which subscription, when a receiver has several
	Timestamp int64
	Body      []byte
	Sigs      string
	Data      map[string]any
}

// receiver is a subscriber endpoint that checks every request the way
// docs/webhooks.md tells receivers to: with the Standard Webhooks
// algorithm, against each secret it holds, within the timestamp tolerance
// of the test clock. Unauthentic requests get 401 and are counted.
type receiver struct {
	t   testing.TB
	srv *httptest.Server
	clk *clock

	mu      sync.Mutex
	secrets []string
	// perPath, when set, holds one secret per URL path (one subscription
	// each), so a receiver with many subscriptions checks one HMAC.
	perPath map[string]string
	got     []received
	// echo: "right", "wrong" or "none" for challenges.
	echo string
	// fail answers the next fail requests with failStatus (and Retry-After).
	fail       int
	failStatus int
	retryAfter string
	// hold, when set, is waited on before answering.
	hold     chan struct{}
	inflight atomic.Int32
	peak     atomic.Int32
	rejected atomic.Int32
	// delivered counts the authentic events (not challenges) received, so
	// a benchmark can poll it without copying every request it holds.
	delivered atomic.Int64
}

// newReceiver starts a receiver; clk nil means real time.
func newReceiver(t testing.TB, clk *clock) *receiver {
	r := &receiver{t: t, clk: clk, echo: "right"}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) URL() string { return r.srv.URL + "/hooks/status" }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	n := r.inflight.Add(1)
	defer r.inflight.Add(-1)
	for {
		p := r.peak.Load()
		if n <= p || r.peak.CompareAndSwap(p, n) {
			break
		}
	}
	body, _ := io.ReadAll(req.Body)
	var env struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	secrets := r.secrets
	if s, ok := r.perPath[req.URL.Path]; ok {
		secrets = []string{s}
	}
	if env.Type == VerifyType && len(secrets) == 0 {
		// The secret is only known once Subscribe returns; the challenge
		// may arrive first. Real receivers store it before answering.
		r.mu.Unlock()
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	r.mu.Unlock()
	if !r.authentic(secrets, req.Header, body) {
		r.rejected.Add(1)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if h := r.holdCh(); h != nil {
		<-h
	}
	r.mu.Lock()
	ts, _ := strconv.ParseInt(req.Header.Get(HeaderTimestamp), 10, 64)
	r.got = append(r.got, received{ID: req.Header.Get(HeaderID), Path: req.URL.Path, Type: env.Type, Timestamp: ts, Body: body, Sigs: req.Header.Get(HeaderSignature), Data: env.Data})
	if env.Type != VerifyType {
		r.delivered.Add(1)
	}
	if r.fail > 0 {
		r.fail--
		if r.retryAfter != "" {
			w.Header().Set("Retry-After", r.retryAfter)
		}
		st := r.failStatus
		r.mu.Unlock()
		w.WriteHeader(st)
		return
	}
	echo := r.echo
	r.mu.Unlock()
	if env.Type == VerifyType {
		w.Header().Set("Content-Type", "application/json")
		switch echo {
		case "right":
			_ = json.NewEncoder(w).Encode(map[string]any{"challenge": env.Data["challenge"]})
		case "wrong":
			_ = json.NewEncoder(w).Encode(map[string]any{"challenge": "not-it"})
		}
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) authentic(secrets []string, h http.Header, body []byte) bool {
	for _, s := range secrets {
		now := time.Now()
		if r.clk != nil {
			now = r.clk.Now()
		}
		if _, err := Verify(s, h, body, now, DefaultTolerance); err == nil {
			return true
		}
	}
	return false
}

func (r *receiver) holdCh() chan struct{} { r.mu.Lock(); defer r.mu.Unlock(); return r.hold }

func (r *receiver) setSecrets(s ...string) { r.mu.Lock(); r.secrets = s; r.mu.Unlock() }

func (r *receiver) addSecret(s string) { r.mu.Lock(); r.secrets = append(r.secrets, s); r.mu.Unlock() }

func (r *receiver) addPathSecret(path, s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.perPath == nil {
		r.perPath = map[string]string{}
	}
	r.perPath[path] = s
}

func (r *receiver) events() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []received
	for _, g := range r.got {
		if g.Type != VerifyType {
			out = append(out, g)
		}
	}
	return out
}

func (r *receiver) count(typ string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, g := range r.got {
		if g.Type == typ {
			n++
		}
	}
	return n
}

// harness is a Service on a real bbolt file with a test clock.
type harness struct {
	t   *testing.T
	st  *store.Store
	clk *clock
	svc *Service
}

func newHarness(t *testing.T, o Options) *harness {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "outpost.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := newClock()
	o.Store, o.Now = st, clk.Now
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	o.AllowHTTP, o.AllowPrivate = true, true
	if o.Poll == 0 {
		o.Poll = 20 * time.Millisecond
	}
	h := &harness{t: t, st: st, clk: clk, svc: New(o)}
	return h
}

// run starts delivering; stopped (and drained) at cleanup.
func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.svc.Run(ctx); close(done) }()
	h.t.Cleanup(func() { cancel(); <-done })
}

// subscribe creates a subscription for r and gives r its secret.
func (h *harness) subscribe(r *receiver, req Request) Created {
	h.t.Helper()
	req.URL = r.URL()
	c, err := h.svc.Subscribe(req, fmt.Sprintf("client-%p", r))
	if err != nil {
		h.t.Fatalf("subscribe: %v", err)
	}
	r.addSecret(c.Secret)
	h.svc.Wake()
	return c
}

// verified subscribes r and waits for the challenge to succeed (the first
// challenge may be refused before r knows its secret; the retry comes
// after the verify schedule's first step, which the clock is moved past).
func (h *harness) verified(r *receiver, req Request) Created {
	h.t.Helper()
	c := h.subscribe(r, req)
	h.waitState(c.ID, store.SubActive)
	return c
}

func (h *harness) waitState(id string, want store.SubState) store.Subscription {
	h.t.Helper()
	var sub store.Subscription
	h.wait(fmt.Sprintf("subscription %s %s", id, want), func() bool {
		var err error
		sub, err = h.st.Subscription(id)
		if err != nil {
			h.t.Fatal(err)
		}
		if sub.State != want {
			h.clk.Advance(time.Minute) // past the next retry wait
			h.svc.Wake()
		}
		return sub.State == want
	})
	return sub
}

// wait polls cond until it holds or 10 s pass.
func (h *harness) wait(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// publish commits an event for subscribers, as the engine's step does.
func (h *harness) publish(ev status.Event) {
	h.t.Helper()
	if ev.At.IsZero() {
		ev.At = h.clk.Now()
	}
	if ev.Data == nil { // as the monitor builds it at the step
		ev.Data = json.RawMessage(`{"page":{"id":"test"},"event_id":"` + ev.ID + `"}`)
	}
	if _, err := h.st.Apply(store.Entry{At: h.clk.Now(), Announce: []store.Announcement{{Event: ev, Dests: []store.Dest{{Name: store.WebhooksDest}}}}}); err != nil {
		h.t.Fatal(err)
	}
	h.svc.Wake()
}

func (h *harness) log(id string) []store.WebhookDelivery {
	h.t.Helper()
	l, err := h.st.WebhookLog(id, 100)
	if err != nil {
		h.t.Fatal(err)
	}
	return l
}

// lastEvent is the newest non-challenge delivery of a subscription (the
// zero value before there is one).
func (h *harness) lastEvent(id string) store.WebhookDelivery {
	h.t.Helper()
	for _, d := range h.log(id) {
		if d.Type != VerifyType {
			return d
		}
	}
	return store.WebhookDelivery{}
}

func incidentEvent(id string, comps ...string) status.Event {
	return status.Event{ID: id, Type: status.IncidentCreated,
		Incident: &status.Incident{ID: "inc-" + id, Name: "API outage", Components: comps, Status: status.Investigating, Impact: status.ImpactMajor}}
}

func TestReceiverRejectsTamperedAndStale(t *testing.T) {
	clk := newClock()
	secret, _ := NewSecret()
	body := []byte(`{"type":"incident.created"}`)
	h := http.Header{}
	if err := SetHeaders(h, "evt-1", clk.Now(), body, secret); err != nil {
		t.Fatal(err)
	}
	r := &receiver{clk: clk}
	if !r.authentic([]string{secret}, h, body) {
		t.Fatal("authentic request refused")
	}
	if r.authentic([]string{secret}, h, []byte(`{"type":"incident.resolved"}`)) {
		t.Fatal("tampered body accepted")
	}
	clk.Advance(DefaultTolerance + time.Second)
	if _, err := Verify(secret, h, body, clk.Now(), DefaultTolerance); !errors.Is(err, ErrStale) {
		t.Fatalf("stale timestamp: got %v, want ErrStale", err)
	}
}
