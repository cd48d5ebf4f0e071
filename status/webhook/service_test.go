package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/statuspage"
	"github.com/outpost-status/outpost/status/store"
)

func TestSubscribeVerifyAndDeliver(t *testing.T) {
	h := newHarness(t, Options{})
	h.run()
	r := newReceiver(t, h.clk)
	c := h.verified(r, Request{})
	if !strings.HasPrefix(c.Secret, SecretPrefix) || !strings.HasPrefix(c.UnsubscribeToken, "ust_") || c.State != "pending" {
		t.Fatalf("created = %+v", c)
	}
	if n := r.count(VerifyType); n < 1 {
		t.Fatalf("challenges received = %d", n)
	}

	h.publish(incidentEvent("evt-1", "api"))
	h.wait("the event", func() bool { return len(r.events()) == 1 })
	got := r.events()[0]
	if got.ID != "evt-1" || got.Type != "incident.created" || got.Data["event_id"] != "evt-1" {
		t.Fatalf("received %+v", got)
	}
	if got.Timestamp != h.clk.Now().Unix() {
		t.Fatalf("webhook-timestamp %d, want this attempt's time %d", got.Timestamp, h.clk.Now().Unix())
	}
	h.wait("sent in the log", func() bool { return h.lastEvent(c.ID).State == store.Sent })
	d := h.lastEvent(c.ID)
	if len(d.Attempts) != 1 || d.Attempts[0].Status != http.StatusNoContent || d.Attempts[0].Error != "" || d.MessageID != "evt-1" {
		t.Fatalf("delivery log = %+v", d)
	}

	// The owner can ask for a signed test delivery.
	msg, err := h.svc.Ping(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	h.wait("the ping", func() bool { return r.count(PingType) == 1 })
	h.wait("the ping sent in the log", func() bool { d := h.lastEvent(c.ID); return d.MessageID == msg && d.State == store.Sent })
	if r.rejected.Load() != 0 {
		t.Fatalf("%d requests failed signature checks", r.rejected.Load())
	}
}

func TestPingNeedsAnActiveSubscription(t *testing.T) {
	h := newHarness(t, Options{})
	c, err := h.svc.Subscribe(Request{URL: "https://hooks.example.com/x"}, "198.51.100.9")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Ping(c.ID); !errors.Is(err, ErrState) {
		t.Fatalf("ping while pending: %v", err)
	}
	if _, err := h.svc.Ping("sub_nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ping of nothing: %v", err)
	}
}

func TestChallengeEcho(t *testing.T) {
	for _, tc := range []struct {
		echo string
		want store.SubState
	}{
		{"right", store.SubActive},
		{"wrong", store.SubExpired},
		{"none", store.SubExpired},
	} {
		t.Run(tc.echo, func(t *testing.T) {
			h := newHarness(t, Options{})
			h.run()
			r := newReceiver(t, h.clk)
			r.echo = tc.echo
			c := h.subscribe(r, Request{})
			sub := h.waitState(c.ID, tc.want)
			if tc.want == store.SubExpired {
				if !strings.Contains(sub.Reason, "did not echo the challenge") {
					t.Fatalf("reason = %q", sub.Reason)
				}
				// Retried on the verify schedule before giving up.
				if n := r.count(VerifyType); n != len(DefaultVerifySchedule())+1 {
					t.Fatalf("challenges sent = %d, want %d", n, len(DefaultVerifySchedule())+1)
				}
				// An unverified endpoint never receives events.
				h.publish(incidentEvent("evt-x"))
				h.wait("the event row expanded", func() bool { row, _ := h.st.OutboxRow(1); return row.Done() })
				if n := len(r.events()); n != 0 {
					t.Fatalf("unverified subscription got %d events", n)
				}
			}
		})
	}
}

func TestRetriesOnTheScheduleWithTheSameID(t *testing.T) {
	h := newHarness(t, Options{})
	h.run()
	r := newReceiver(t, h.clk)
	c := h.verified(r, Request{})
	r.mu.Lock()
	r.fail, r.failStatus = 3, http.StatusServiceUnavailable
	r.mu.Unlock()

	h.publish(incidentEvent("evt-retry"))
	for i := range 3 {
		h.wait("attempt", func() bool { return len(r.events()) == i+1 })
		h.wait("the retry scheduled", func() bool {
			d := h.lastEvent(c.ID)
			return len(d.Attempts) == i+1 && d.State == store.Pending
		})
		d := h.lastEvent(c.ID)
		if want := d.Attempts[i].At.Add(DefaultSchedule()[i]); !d.NextAt.Equal(want) {
			t.Fatalf("after attempt %d next at %s, want %s (schedule %s)", i+1, d.NextAt, want, DefaultSchedule()[i])
		}
		h.clk.Advance(DefaultSchedule()[i])
		h.svc.Wake()
	}
	h.wait("delivered", func() bool { return h.lastEvent(c.ID).State == store.Sent })
	ev := r.events()
	if len(ev) != 4 {
		t.Fatalf("attempts received = %d, want 4", len(ev))
	}
	for i, e := range ev {
		if e.ID != "evt-retry" {
			t.Fatalf("attempt %d webhook-id %q", i, e.ID)
		}
		if i > 0 && e.Timestamp <= ev[i-1].Timestamp {
			t.Fatalf("attempt %d not re-signed with its own timestamp: %d after %d", i, e.Timestamp, ev[i-1].Timestamp)
		}
	}
	var codes []int
	for _, a := range h.lastEvent(c.ID).Attempts {
		codes = append(codes, a.Status)
	}
	if !slices.Equal(codes, []int{503, 503, 503, 204}) {
		t.Fatalf("attempt log statuses = %v", codes)
	}
}

func TestRetryAfterAndPermanentFailures(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
		wantState  store.DeliveryState
		wantWait   time.Duration
	}{
		{"429 honours Retry-After", http.StatusTooManyRequests, "120", store.Pending, 120 * time.Second},
		{"429 without it uses the schedule", http.StatusTooManyRequests, "", store.Pending, DefaultSchedule()[0]},
		{"500 retries", http.StatusInternalServerError, "", store.Pending, DefaultSchedule()[0]},
		{"410 fails at once", http.StatusGone, "", store.Failed, 0},
		{"400 fails at once", http.StatusBadRequest, "", store.Failed, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			h.run()
			r := newReceiver(t, h.clk)
			c := h.verified(r, Request{})
			r.mu.Lock()
			r.fail, r.failStatus, r.retryAfter = 1, tc.status, tc.retryAfter
			r.mu.Unlock()
			h.publish(incidentEvent("evt-1"))
			h.wait("the attempt recorded", func() bool { return len(h.lastEvent(c.ID).Attempts) == 1 })
			d := h.lastEvent(c.ID)
			if d.State != tc.wantState || d.Attempts[0].Status != tc.status || d.Attempts[0].Error == "" {
				t.Fatalf("delivery = %+v", d)
			}
			if tc.wantWait > 0 && !d.NextAt.Equal(d.Attempts[0].At.Add(tc.wantWait)) {
				t.Fatalf("next attempt %s after the first, want %s", d.NextAt.Sub(d.Attempts[0].At), tc.wantWait)
			}
		})
	}
}

func TestDisabledAfterFailingThenReenabled(t *testing.T) {
	h := newHarness(t, Options{DisableAfter: 3 * time.Hour, Schedule: []time.Duration{time.Minute}})
	h.run()
	r := newReceiver(t, h.clk)
	c := h.verified(r, Request{})
	r.mu.Lock()
	r.fail, r.failStatus = 1000, http.StatusBadGateway
	r.mu.Unlock()

	// An event an hour, each failing both its attempts: after three hours
	// of failures the subscription is disabled.
	var sub store.Subscription
	for i := 0; ; i++ {
		if i > 10 {
			t.Fatal("never disabled")
		}
		h.publish(incidentEvent("evt-" + string(rune('a'+i))))
		h.wait("two attempts", func() bool {
			d := h.lastEvent(c.ID)
			if d.State == store.Pending && len(d.Attempts) == 1 {
				h.clk.Advance(time.Minute)
				h.svc.Wake()
			}
			return d.MessageID == "evt-"+string(rune('a'+i)) && !d.State.Open()
		})
		sub, _ = h.st.Subscription(c.ID)
		if sub.State == store.SubDisabled {
			break
		}
		h.clk.Advance(time.Hour)
	}
	if !strings.Contains(sub.Reason, "deliveries failing since") || h.clk.Now().Sub(sub.FailingSince) < 3*time.Hour {
		t.Fatalf("disabled: %+v", sub)
	}
	before := len(r.events())
	h.publish(incidentEvent("evt-while-disabled"))
	h.wait("expanded", func() bool { rows, _ := h.st.Unfinished(10); return len(rows) == 0 })
	if len(r.events()) != before {
		t.Fatal("a disabled subscription received an event")
	}

	// The owner re-enables it; the next event is delivered.
	r.mu.Lock()
	r.fail = 0
	r.mu.Unlock()
	if _, err := h.svc.Resume(c.ID); err != nil {
		t.Fatal(err)
	}
	h.publish(incidentEvent("evt-after"))
	h.wait("delivered after re-enabling", func() bool {
		d := h.lastEvent(c.ID)
		return d.MessageID == "evt-after" && d.State == store.Sent
	})
	if sub, _ := h.st.Subscription(c.ID); sub.State != store.SubActive || !sub.FailingSince.IsZero() {
		t.Fatalf("after success: %+v", sub)
	}
}

func TestRotationSignsWithBothSecretsDuringOverlap(t *testing.T) {
	h := newHarness(t, Options{})
	h.run()
	r := newReceiver(t, h.clk)
	c := h.verified(r, Request{})
	secret, until, err := h.svc.Rotate(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if until.Sub(h.clk.Now()) != 24*time.Hour || secret == c.Secret {
		t.Fatalf("rotate: secret changed %v, old valid for %s", secret != c.Secret, until.Sub(h.clk.Now()))
	}

	// During the overlap a receiver holding either secret accepts.
	for _, hold := range []string{c.Secret, secret} {
		r.setSecrets(hold)
		before := len(r.events())
		h.publish(incidentEvent("evt-" + hold[len(hold)-6:]))
		h.wait("accepted", func() bool { return len(r.events()) == before+1 })
		if n := len(strings.Fields(r.events()[before].Sigs)); n != 2 {
			t.Fatalf("signatures during overlap = %d, want 2", n)
		}
	}

	// After it only the new secret signs: the old one no longer verifies.
	h.clk.Advance(24*time.Hour + time.Second)
	h.publish(incidentEvent("evt-after-overlap"))
	h.wait("accepted with the new secret", func() bool {
		ev := r.events()
		return len(ev) > 0 && ev[len(ev)-1].ID == "evt-after-overlap"
	})
	last := r.events()[len(r.events())-1]
	if n := len(strings.Fields(last.Sigs)); n != 1 {
		t.Fatalf("signatures after overlap = %d, want 1", n)
	}
	hdr := http.Header{}
	hdr.Set(HeaderID, last.ID)
	hdr.Set(HeaderTimestamp, strconv.FormatInt(last.Timestamp, 10))
	hdr.Set(HeaderSignature, last.Sigs)
	if _, err := Verify(c.Secret, hdr, last.Body, h.clk.Now(), DefaultTolerance); !errors.Is(err, ErrNoMatch) {
		t.Fatalf("old secret after the overlap: %v, want ErrNoMatch", err)
	}
}

func TestFiltersByComponentAndEvent(t *testing.T) {
	h := newHarness(t, Options{Components: func(id string) bool { return id == "api" || id == "web" }})
	h.run()
	api, all, resolved := newReceiver(t, h.clk), newReceiver(t, h.clk), newReceiver(t, h.clk)
	h.verified(api, Request{Components: []string{"api"}})
	h.verified(all, Request{})
	h.verified(resolved, Request{Events: []string{"incident.resolved"}})

	h.publish(incidentEvent("evt-web", "web"))
	h.publish(incidentEvent("evt-api", "api"))
	h.publish(status.Event{ID: "evt-comp", Type: status.ComponentStatusChanged, Component: &status.ComponentEvent{ID: "api", NewStatus: status.MajorOutage}})
	h.wait("all three at the catch-all", func() bool { return len(all.events()) == 3 })
	h.wait("two at api", func() bool { return len(api.events()) == 2 })
	ids := func(r *receiver) []string {
		var out []string
		for _, e := range r.events() {
			out = append(out, e.ID)
		}
		slices.Sort(out)
		return out
	}
	if got := ids(api); !slices.Equal(got, []string{"evt-api", "evt-comp"}) {
		t.Fatalf("api subscriber got %v", got)
	}
	if got := ids(resolved); len(got) != 0 {
		t.Fatalf("resolved-only subscriber got %v", got)
	}
}

func TestPerHostConcurrency(t *testing.T) {
	h := newHarness(t, Options{PerHost: 2, Workers: 8})
	h.run()
	slow, fast := newReceiver(t, h.clk), newReceiver(t, h.clk)
	// Four subscriptions on the slow host, one on the fast one.
	var slowSubs []Created
	for range 4 {
		slowSubs = append(slowSubs, h.verified(slow, Request{}))
	}
	h.verified(fast, Request{})
	hold := make(chan struct{})
	var once sync.Once
	unhold := func() { once.Do(func() { close(hold) }) }
	t.Cleanup(unhold) // before the receivers close, even if the test fails
	slow.mu.Lock()
	slow.hold = hold
	slow.mu.Unlock()

	for i := range 3 {
		h.publish(incidentEvent("evt-" + string(rune('a'+i))))
	}
	// The fast host gets all three while the slow one holds two requests
	// and no more.
	h.wait("the fast receiver served", func() bool { return len(fast.events()) == 3 })
	h.wait("the slow receiver holding two", func() bool { return slow.inflight.Load() == 2 })
	if p := slow.peak.Load(); p > 2 {
		t.Fatalf("slow host had %d requests in flight, limit 2", p)
	}
	unhold()
	h.wait("the slow receiver served", func() bool { return len(slow.events()) >= 12 })
	if n := len(slow.events()); n != 12 {
		t.Fatalf("slow receiver got %d requests, want 12; rejected %d", n, slow.rejected.Load())
	}
	if p := slow.peak.Load(); p > 2 {
		t.Fatalf("slow host peaked at %d requests in flight, limit 2", p)
	}
	_ = slowSubs
}

func TestValidate(t *testing.T) {
	svc := New(Options{Components: func(id string) bool { return id == "api" }})
	strict := New(Options{})
	open := New(Options{AllowHTTP: true, AllowPrivate: true})
	for _, tc := range []struct {
		svc   *Service
		req   Request
		field string
		msg   string
	}{
		{svc, Request{URL: "https://hooks.example.com/x", Components: []string{"api"}, Events: []string{"incident.created"}}, "", ""},
		{svc, Request{}, "url", "is required"},
		{svc, Request{URL: "http://hooks.example.com/x"}, "url", "must use https"},
		{open, Request{URL: "http://127.0.0.1:9/x"}, "", ""},
		{svc, Request{URL: "ftp://hooks.example.com/x"}, "url", `scheme "ftp"`},
		{svc, Request{URL: "https://user:pw@hooks.example.com/x"}, "url", "credentials"},
		{svc, Request{URL: "/relative"}, "url", "absolute URL"},
		{svc, Request{URL: "https://hooks.example.com/x#frag"}, "url", "fragment"},
		{strict, Request{URL: "https://10.1.2.3/x"}, "url", "private"},
		{strict, Request{URL: "https://[::1]/x"}, "url", "private"},
		{strict, Request{URL: "https://169.254.169.254/latest"}, "url", "private"},
		{strict, Request{URL: "https://localhost/x"}, "url", "private"},
		{svc, Request{URL: "https://hooks.example.com/" + strings.Repeat("a", maxURL)}, "url", "at most"},
		{svc, Request{URL: "https://hooks.example.com/x", Components: []string{"api", "nope"}}, "components[1]", `unknown component "nope"`},
		{svc, Request{URL: "https://hooks.example.com/x", Events: []string{"check.failed"}}, "events[0]", `unknown event "check.failed"`},
	} {
		err := tc.svc.Validate(tc.req)
		if tc.field == "" {
			if err != nil {
				t.Errorf("%+v: unexpected %v", tc.req, err)
			}
			continue
		}
		var we *Error
		if !errors.As(err, &we) || we.Field != tc.field || !strings.Contains(we.Msg, tc.msg) {
			t.Errorf("%+v: got %v, want %s: …%s…", tc.req, err, tc.field, tc.msg)
		}
	}
}

func TestPerClientCap(t *testing.T) {
	h := newHarness(t, Options{PerClient: 2})
	for i := range 3 {
		_, err := h.svc.Subscribe(Request{URL: "https://hooks.example.com/x"}, "203.0.113.7")
		if i < 2 && err != nil {
			t.Fatal(err)
		}
		if i == 2 && !errors.Is(err, store.ErrTooManySubscriptions) {
			t.Fatalf("third subscription: %v", err)
		}
	}
	if _, err := h.svc.Subscribe(Request{URL: "https://hooks.example.com/x"}, "203.0.113.8"); err != nil {
		t.Fatalf("another address: %v", err)
	}
}

// A subscriber host that resolves to a private address is refused at
// dial time, before any packet leaves, and the challenge fails for good.
func TestPrivateTargetRefusedAtDial(t *testing.T) {
	var refused, allowed atomic.Int32
	hc := NewClient(ClientOptions{
		Resolver: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("10.20.30.40")}, nil
		},
		control: func(address string, err error) {
			if errors.Is(err, ErrRefusedAddress) && address == "10.20.30.40:443" {
				refused.Add(1)
			} else {
				allowed.Add(1)
			}
		},
	})
	h := newHarness(t, Options{Client: hc})
	h.run()
	c, err := h.svc.Subscribe(Request{URL: "https://hooks.example.test/status"}, "198.51.100.1")
	if err != nil {
		t.Fatal(err)
	}
	sub := h.waitState(c.ID, store.SubExpired)
	if !strings.Contains(sub.Reason, "refused") {
		t.Fatalf("reason = %q", sub.Reason)
	}
	if refused.Load() != 1 || allowed.Load() != 0 {
		t.Fatalf("dial decisions: %d refused before connect, %d allowed; want 1 and 0", refused.Load(), allowed.Load())
	}
	if l := h.log(c.ID); len(l) != 1 || len(l[0].Attempts) != 1 {
		t.Fatalf("a refused address was retried: %+v", l)
	}
}

func TestDeleteDropsOpenDeliveries(t *testing.T) {
	h := newHarness(t, Options{})
	h.run()
	r := newReceiver(t, h.clk)
	c := h.verified(r, Request{})
	r.mu.Lock()
	r.fail, r.failStatus = 1, http.StatusServiceUnavailable
	r.mu.Unlock()
	h.publish(incidentEvent("evt-1"))
	h.wait("a retry pending", func() bool { return h.lastEvent(c.ID).State == store.Pending && len(h.lastEvent(c.ID).Attempts) == 1 })
	if err := h.svc.Delete(c.ID); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(time.Minute)
	h.svc.Wake()
	if _, err := h.st.Subscription(c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if l := h.log(c.ID); len(l) != 0 {
		t.Fatalf("deliveries left: %+v", l)
	}
	open, err := h.st.OpenDeliveries(store.KindWebhook, 0, 10)
	if err != nil || len(open) != 0 {
		t.Fatalf("open deliveries after delete: %d %v", len(open), err)
	}
}

// Events about one incident reach a subscriber in sequence order, even
// when they share a timestamp and the first one needs a retry: the update
// waits for the creation. Every body carries the event's sequence.
func TestOneIncidentsEventsArriveInOrder(t *testing.T) {
	h := newHarness(t, Options{})
	h.run()
	r := newReceiver(t, h.clk)
	c := h.verified(r, Request{})
	r.mu.Lock()
	r.fail, r.failStatus = 1, http.StatusServiceUnavailable
	r.mu.Unlock()

	created := incidentEvent("evt-10", "api")
	created.Seq = 10
	updated := incidentEvent("evt-11", "api")
	updated.Seq, updated.Type, updated.Incident.ID = 11, status.IncidentUpdated, created.Incident.ID
	other := incidentEvent("evt-12", "api") // another incident: not held back
	other.Seq = 12
	h.publish(created)
	h.publish(updated)
	h.wait("the creation's retry scheduled", func() bool {
		for _, d := range h.log(c.ID) {
			if d.MessageID == "evt-10" {
				return len(d.Attempts) == 1 && d.State == store.Pending
			}
		}
		return false
	})
	// A later event about another incident goes out meanwhile: the loop
	// ran past the held update.
	h.publish(other)
	h.wait("the other incident delivered", func() bool { return slices.ContainsFunc(r.events(), func(e received) bool { return e.ID == "evt-12" }) })
	if slices.ContainsFunc(r.events(), func(e received) bool { return e.ID == "evt-11" }) {
		t.Fatal("the update went out while its incident's creation waited for a retry")
	}
	h.clk.Advance(DefaultSchedule()[0])
	h.svc.Wake()
	h.wait("both delivered", func() bool { return len(r.events()) == 4 })
	var order []string
	for _, e := range r.events() {
		if e.ID != "evt-12" {
			order = append(order, e.ID)
		}
	}
	if !slices.Equal(order, []string{"evt-10", "evt-10", "evt-11"}) {
		t.Fatalf("arrival order %v, want the creation (failed, then retried) before its update", order)
	}
	for _, e := range r.events() {
		want := `"sequence":` + strings.TrimPrefix(e.ID, "evt-") + `,`
		if !strings.Contains(string(e.Body), want) || !strings.Contains(string(e.Body), `.000Z"`) {
			t.Errorf("%s body lacks %s or a millisecond timestamp: %s", e.ID, want, e.Body)
		}
	}
}

// An event stored without its data object (by an Outpost before events
// carried one) still goes out, with the page and incident it carries: no
// delivery waits on, or fails for want of, a rendered page.
func TestEventWithoutDataIsStillDelivered(t *testing.T) {
	h := newHarness(t, Options{Site: statuspage.Site{ID: "acme", Name: "Acme", URL: "https://status.acme.test"}})
	h.run()
	r := newReceiver(t, h.clk)
	h.verified(r, Request{})
	ev := incidentEvent("evt-old", "api")
	ev.At = h.clk.Now()
	if _, err := h.st.Apply(store.Entry{At: h.clk.Now(), Announce: []store.Announcement{{Event: ev, Dests: []store.Dest{{Name: store.WebhooksDest}}}}}); err != nil {
		t.Fatal(err)
	}
	h.svc.Wake()
	h.wait("the event", func() bool { return len(r.events()) == 1 })
	got := r.events()[0]
	page, _ := got.Data["page"].(map[string]any)
	inc, _ := got.Data["incident"].(map[string]any)
	if page["id"] != "acme" || page["status_indicator"] != "major" || inc["id"] != "inc-evt-old" ||
		inc["shortlink"] != "https://status.acme.test/incidents/inc-evt-old" {
		t.Fatalf("received %+v", got.Data)
	}
}

// TestEachDeliveryGoesOutOnce: many deliveries to one host, whose
// outcomes are committed in small batches while the loop keeps reading
// the open ones, each go out exactly once.
func TestEachDeliveryGoesOutOnce(t *testing.T) {
	h := newHarness(t, Options{PerHost: 4, Workers: 8, PerClient: -1})
	h.run()
	r := newReceiver(t, h.clk)
	const subs, events = 40, 5
	var ids []string
	for i := range subs {
		path := fmt.Sprintf("/hooks/%d", i)
		c, err := h.svc.Subscribe(Request{URL: r.srv.URL + path}, fmt.Sprintf("client-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		r.addPathSecret(path, c.Secret)
		ids = append(ids, c.ID)
	}
	h.svc.Wake()
	for _, id := range ids {
		h.waitState(id, store.SubActive)
	}
	for i := range events {
		h.publish(incidentEvent(fmt.Sprintf("evt-%d", i)))
	}
	h.wait("every delivery answered and recorded", func() bool {
		open, err := h.st.OpenDeliveries(store.KindWebhook, 0, 1)
		return r.delivered.Load() >= subs*events && err == nil && len(open) == 0
	})
	sent := map[string]int{}
	for _, g := range r.events() {
		sent[g.Path+" "+g.ID]++
	}
	for id, n := range sent {
		if n != 1 {
			t.Errorf("delivery %s went out %d times", id, n)
		}
	}
	if len(sent) != subs*events {
		t.Fatalf("%d distinct deliveries, want %d", len(sent), subs*events)
	}
}
