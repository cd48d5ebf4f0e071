package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/webhook"
)

// hookReceiver is a subscriber endpoint that verifies signatures the way
// docs/webhooks.md says, echoes the challenge, and can hold requests.
type hookReceiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	secret   string
	arrived  []string // "type webhook-id" of every authentic request, answered or not
	bodies   [][]byte // and their bodies
	answered []string
	rejected int
	hold     chan struct{} // non-nil: events wait on it before answering
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	secret, hold := r.secret, r.hold
	r.mu.Unlock()
	if secret == "" {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	id, err := webhook.Verify(secret, req.Header, body, time.Now(), webhook.DefaultTolerance)
	if err != nil {
		r.mu.Lock()
		r.rejected++
		r.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var env struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	_ = json.Unmarshal(body, &env)
	key := env.Type + " " + id
	r.mu.Lock()
	r.arrived = append(r.arrived, key)
	r.bodies = append(r.bodies, body)
	r.mu.Unlock()
	if env.Type == webhook.VerifyType {
		_ = json.NewEncoder(w).Encode(map[string]any{"challenge": env.Data["challenge"]})
		return
	}
	if hold != nil {
		<-hold
	}
	r.mu.Lock()
	r.answered = append(r.answered, key)
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// subscribe asks the Outpost at base to deliver here (extra: more JSON
// fields) and keeps the secret it answers with.
func (r *hookReceiver) subscribe(t *testing.T, base, extra string) webhook.Created {
	t.Helper()
	code, body := request(t, "POST", base+"/api/v1/subscriptions", "", `{"url":"`+r.srv.URL+`/hook"`+extra+`}`)
	if code != http.StatusCreated {
		t.Fatalf("subscribe: %d %s", code, body)
	}
	var created webhook.Created
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.secret = created.Secret
	r.mu.Unlock()
	return created
}

func (r *hookReceiver) seen() (arrived, answered []string, rejected int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.arrived...), append([]string(nil), r.answered...), r.rejected
}

// webhookOutpost is the shop Outpost with webhooks on for loopback
// receivers, and a receiver ready to subscribe.
type webhookOutpost struct {
	shopOutpost
	rcv *hookReceiver
}

// startWebhookOutpost starts it; extra goes inside the webhooks map.
func startWebhookOutpost(t *testing.T, extra string) webhookOutpost {
	t.Helper()
	rcv := newHookReceiver(t)
	s := startShop(t, "Webhook Test", "", "webhooks: {enabled: true, allow_http: true, allow_private_targets: true"+extra+"}\n")
	return webhookOutpost{shopOutpost: s, rcv: rcv}
}

// TestWebhookKillMidDelivery subscribes through the public API of the real
// binary, verifies by challenge, takes an outage, and SIGKILLs Outpost
// while the receiver holds the first event's request. After a restart
// every event arrives, the interrupted one again with the same webhook-id.
func TestWebhookKillMidDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	w := startWebhookOutpost(t, "")
	bin, rcv, tg, cfg, listen, p := w.bin, w.rcv, w.tg, w.cfg, w.listen, w.p
	waitFor(t, 10*time.Second, "the shop up", func() bool { return strings.Contains(mustFetch(p.base, "/api/v1/status"), `"operational"`) }, p)

	created := rcv.subscribe(t, p.base, "")
	rcv.mu.Lock()
	rcv.hold = make(chan struct{})
	rcv.mu.Unlock()
	sub := p.base + "/api/v1/subscriptions/" + created.ID
	waitFor(t, 15*time.Second, "the subscription verified", func() bool {
		_, b := request(t, "GET", sub, created.UnsubscribeToken, "")
		return strings.Contains(b, `"state":"active"`)
	}, p)

	tg.stop() // incident.created and component.status_changed; the receiver holds them
	waitFor(t, 15*time.Second, "an event held at the receiver", func() bool {
		arrived, _, _ := rcv.seen()
		return len(arrived) >= 2 // the challenge and at least one event
	}, p)
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	arrivedBefore, _, _ := rcv.seen()
	held := arrivedBefore[1]
	rcv.mu.Lock()
	close(rcv.hold)
	rcv.hold = nil
	rcv.mu.Unlock()

	p2 := startOutpost(t, bin, cfg, listen)
	want := []string{"incident.created", "component.status_changed"}
	// The held request's own handler answers once it is released, so
	// "every event answered" alone can be met before the restarted node has
	// sent the interrupted event again: wait for that second arrival too.
	waitFor(t, 30*time.Second, "every event answered after the restart, the interrupted one sent again", func() bool {
		arrived, answered, _ := rcv.seen()
		if n := countOf(arrived, held); n < 2 {
			return false
		}
		for _, w := range want {
			found := false
			for _, a := range answered {
				found = found || strings.HasPrefix(a, w+" ")
			}
			if !found {
				return false
			}
		}
		return true
	}, p2)
	arrived, answered, rejected := rcv.seen()
	if rejected != 0 {
		t.Fatalf("%d requests failed signature verification", rejected)
	}
	if count := countOf(arrived, held); count < 2 {
		t.Fatalf("the interrupted delivery %q was not sent again with the same webhook-id: %q", held, arrived)
	}
	// An answer is recorded after it arrives (outcomes are group-committed):
	// wait for the records rather than read them once.
	waitFor(t, 10*time.Second, "every delivery recorded as sent after the restart", func() bool {
		_, log := request(t, "GET", sub+"/deliveries", created.UnsubscribeToken, "")
		var dl struct {
			Deliveries []struct {
				Type, State string
			} `json:"deliveries"`
		}
		if err := json.Unmarshal([]byte(log), &dl); err != nil {
			t.Fatal(err)
		}
		for _, d := range dl.Deliveries {
			if d.State != "sent" {
				return false
			}
		}
		return len(dl.Deliveries) > 0
	}, p2)
	metrics := mustFetch(p2.ops, "/metrics")
	if !strings.Contains(metrics, `outpost_deliveries_total{destination="@webhooks",result="delivered"}`) ||
		strings.Contains(metrics, `outpost_outbox_depth{destination="@webhooks"}`) {
		t.Errorf("webhook metrics after delivery:\n%s", grepLines(metrics, "@webhooks"))
	}
	health := mustFetch(p2.ops, "/api/v1/health")
	if !strings.Contains(health, `"webhooks":{"subscriptions":{"active":1},"open_deliveries":0}`) {
		t.Errorf("health after delivery: %s", health)
	}
	t.Logf("arrived %q; answered %q", arrived, answered)
}

// TestSubscriptionsCLI manages a verified subscription with the on-call
// CLI (admin token) against the real binary.
func TestSubscriptionsCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	p, bin, _ := startAdminOutpost(t, "webhooks: {enabled: true, allow_http: true, allow_private_targets: true}\n")
	rcv := newHookReceiver(t)
	created := rcv.subscribe(t, p.base, `,"components":["cart"]`)
	server := "-server=" + p.base
	waitFor(t, 15*time.Second, "the subscription active in the list", func() bool {
		out, err := cli(t, bin, "subscriptions", "list", server)
		return err == nil && strings.Contains(out, created.ID+"  active") && strings.Contains(out, "127.0.0.1")
	}, p)
	out, err := cli(t, bin, "subscriptions", "log", server, "-id", created.ID)
	if err != nil || !strings.Contains(out, "subscription.verify") || !strings.Contains(out, " sent ") {
		t.Fatalf("log: %v\n%s", err, out)
	}
	for _, step := range []struct{ cmd, want string }{{"pause", "paused"}, {"enable", "active"}, {"delete", "deleted"}} {
		out, err := cli(t, bin, "subscriptions", step.cmd, server, "-id", created.ID)
		if err != nil || !strings.Contains(out, created.ID+" "+step.want) {
			t.Fatalf("%s: %v %s", step.cmd, err, out)
		}
	}
	if out, err := cli(t, bin, "subscriptions", "pause", server, "-id", created.ID); err == nil || !strings.Contains(out, "no such subscription") {
		t.Fatalf("pause after delete: %v %s", err, out)
	}
	if code, _ := request(t, "GET", p.base+"/api/v1/subscriptions/"+created.ID, created.UnsubscribeToken, ""); code != http.StatusUnauthorized {
		t.Fatalf("owner token after delete: %d", code)
	}
}

// TestWebhookCleanStopRecordsInFlight: SIGTERM while a delivery is in
// flight waits for its answer and records it, so a restart sends nothing
// twice.
func TestWebhookCleanStopRecordsInFlight(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	w := startWebhookOutpost(t, ", per_host: 1")
	bin, rcv, tg, cfg, listen, p := w.bin, w.rcv, w.tg, w.cfg, w.listen, w.p
	created := rcv.subscribe(t, p.base, `,"events":["incident.created"]`)
	waitFor(t, 15*time.Second, "the subscription verified", func() bool {
		_, b := request(t, "GET", p.base+"/api/v1/subscriptions/"+created.ID, created.UnsubscribeToken, "")
		return strings.Contains(b, `"state":"active"`)
	}, p)
	hold := make(chan struct{})
	rcv.mu.Lock()
	rcv.hold = hold
	rcv.mu.Unlock()

	tg.stop()
	waitFor(t, 15*time.Second, "the incident held at the receiver", func() bool {
		arrived, _, _ := rcv.seen()
		return len(arrived) == 2
	}, p)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	time.AfterFunc(500*time.Millisecond, func() { close(hold) }) // the answer comes while Outpost is stopping
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("outpost did not stop cleanly: %v\n%s", err, p.log())
	}
	rcv.mu.Lock()
	rcv.hold = nil
	rcv.mu.Unlock()

	p2 := startOutpost(t, bin, cfg, listen)
	waitFor(t, 10*time.Second, "no open deliveries", func() bool {
		return strings.Contains(mustFetch(p2.ops, "/api/v1/health"), `"open_deliveries":0`)
	}, p2)
	arrived, answered, _ := rcv.seen()
	if len(arrived) != 2 || len(answered) != 1 || !strings.HasPrefix(answered[0], "incident.created ") {
		t.Fatalf("after a clean stop and restart: arrived %q, answered %q (want the challenge and one incident, once)", arrived, answered)
	}
}

func grepLines(text, sub string) string {
	var out []string
	for l := range strings.Lines(text) {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// A webhook body describes the step that produced its event, not the page
// when it is finally sent: with publish.mode delay the outage's
// announcements are held, the target recovers before a person releases
// them, and the delivered bodies still show the outage (the page's
// indicator, the incident's component down). Before, bodies were built at
// fan-out from the newest page, which by then was all green.
func TestWebhookBodyDescribesItsOwnStep(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	t.Setenv("OUTPOST_TEST_OPS_TOKEN", opsToken)
	rcv := newHookReceiver(t)
	s := startShop(t, "Own Step", "", `webhooks: {enabled: true, allow_http: true, allow_private_targets: true}
publish: {mode: delay, delay: 1h}
admin:
  tokens:
    - {name: oncall, token: "${OUTPOST_TEST_OPS_TOKEN}"}
`)
	p, tg := s.p, s.tg
	api := p.base + "/api/v1"
	waitFor(t, 10*time.Second, "the shop up", func() bool { return strings.Contains(mustFetch(p.base, "/api/v1/status"), `"operational"`) }, p)
	created := rcv.subscribe(t, p.base, "")
	waitFor(t, 15*time.Second, "the subscription verified", func() bool {
		_, b := request(t, "GET", api+"/subscriptions/"+created.ID, created.UnsubscribeToken, "")
		return strings.Contains(b, `"state":"active"`)
	}, p)

	tg.stop()
	waitFor(t, 10*time.Second, "the outage's announcements held", func() bool {
		_, b := request(t, "GET", api+"/announcements", opsToken, "")
		return strings.Contains(b, `"incident.created"`) && strings.Contains(b, `"component.status_changed"`)
	}, p)
	tg.start(t)
	waitFor(t, 10*time.Second, "the recovery", func() bool {
		return strings.Contains(mustFetch(p.base, "/api/v2/status.json"), `"indicator":"none"`)
	}, p)
	var held struct {
		Announcements []struct {
			Seq uint64 `json:"seq"`
		} `json:"announcements"`
	}
	_, b := request(t, "GET", api+"/announcements", opsToken, "")
	if err := json.Unmarshal([]byte(b), &held); err != nil || len(held.Announcements) == 0 {
		t.Fatalf("announcements: %v %s", err, b)
	}
	for _, a := range held.Announcements {
		if code, body := request(t, "POST", fmt.Sprintf("%s/announcements/%d/release", api, a.Seq), opsToken, ""); code != 200 {
			t.Fatalf("release %d: %d %s", a.Seq, code, body)
		}
	}
	var down, opened map[string]any
	waitFor(t, 10*time.Second, "the outage's webhooks", func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		for _, body := range rcv.bodies {
			var env struct {
				Type string         `json:"type"`
				Data map[string]any `json:"data"`
			}
			json.Unmarshal(body, &env)
			switch env.Type {
			case "incident.created":
				opened = env.Data
			case "component.status_changed":
				if u, _ := env.Data["component_update"].(map[string]any); u["new_status"] == "major_outage" {
					down = env.Data
				}
			}
		}
		return down != nil && opened != nil
	}, p)
	for name, data := range map[string]map[string]any{"component.status_changed": down, "incident.created": opened} {
		if page, _ := data["page"].(map[string]any); page["status_indicator"] != "critical" {
			t.Errorf("%s: the page reads %v, not the outage of its step", name, page)
		}
	}
	inc, _ := opened["incident"].(map[string]any)
	comps, _ := inc["components"].([]any)
	if len(comps) != 1 || comps[0].(map[string]any)["status"] != "major_outage" {
		t.Errorf("incident.created shows its component as %v, not down as in its step", comps)
	}
}

// Webhook rows in the data file when Outpost starts (a step committed by a
// process that died before its fan-out) are delivered, whatever the start
// order of the parts: the body is the event's own data, stored with it,
// and fan-out no longer asks the page, which has not rendered yet at that
// point. (Before, fan-out before the first render marked such a row
// failed for good, and only main's order of starting prevented it.)
func TestWebhookRowsFromBeforeStartAreDelivered(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	w := startWebhookOutpost(t, "")
	p := w.p
	created := w.rcv.subscribe(t, p.base, "")
	waitFor(t, 15*time.Second, "the subscription verified", func() bool {
		_, b := request(t, "GET", p.base+"/api/v1/subscriptions/"+created.ID, created.UnsubscribeToken, "")
		return strings.Contains(b, `"state":"active"`)
	}, p)
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()

	cfg, err := config.Load(w.cfg, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(cfg.Storage.Path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	inc := &status.Incident{ID: "inc-before-start", Seq: 900, Name: "Shop unreachable", Status: status.Investigating, StartedAt: now,
		CreatedAt: now, UpdatedAt: now, Components: []string{"shop"}}
	data := `{"page":{"id":"x","name":"Webhook Test","url":"","time_zone":"UTC","updated_at":"` + now.Format(time.RFC3339) + `","status_indicator":"critical","status_description":"Major System Outage"},` +
		`"incident":{"id":"inc-before-start","name":"Shop unreachable","status":"investigating"}}`
	ev := status.Event{ID: "evt-before-start", Seq: 901, Type: status.IncidentCreated, At: now, Incident: inc, Data: json.RawMessage(data)}
	if _, err := st.Apply(store.Entry{At: now, Announce: []store.Announcement{{Event: ev, Dests: []store.Dest{{Name: store.WebhooksDest}}}}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	p2 := startOutpost(t, w.bin, w.cfg, w.listen)
	waitFor(t, 20*time.Second, "the row from before the start delivered", func() bool {
		_, answered, _ := w.rcv.seen()
		return slices.Contains(answered, "incident.created evt-before-start")
	}, p2)
	w.rcv.mu.Lock()
	defer w.rcv.mu.Unlock()
	for _, body := range w.rcv.bodies {
		if strings.Contains(string(body), "evt-before-start") || strings.Contains(string(body), "inc-before-start") {
			if !strings.Contains(string(body), `"status_indicator":"critical"`) {
				t.Errorf("the body is not the event's own data: %s", body)
			}
			return
		}
	}
	t.Error("no body of the row from before the start")
}

// countOf counts the times s occurs in list.
func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}
