package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/capability"
	"github.com/outpost-status/outpost/status/statuspage"
	"github.com/outpost-status/outpost/status/store"
)

const siteURL = "https://status.acme.test"

func seedKey(t *testing.T, st *store.Store, at time.Time) {
	t.Helper()
	settings, err := store.SiteKeySettings(capability.First(bytes.Repeat([]byte{4}, 32), at))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(store.Entry{At: at, Settings: settings}); err != nil {
		t.Fatal(err)
	}
}

// realIncident is an incident event whose stored data is what the step
// builds (statuspage.View.WebhookData).
func realIncident(t *testing.T, at time.Time) status.Event {
	t.Helper()
	inc := &status.Incident{ID: "inc-9", Name: "Public API is unavailable", Status: status.Investigating, Impact: status.ImpactCritical,
		Components: []string{"api"}, CreatedAt: at, UpdatedAt: at, StartedAt: at,
		Updates: []status.Update{{ID: "u1", Status: status.Investigating, Body: "Requests fail.", CreatedAt: at, UpdatedAt: at, DisplayAt: at}}}
	ev := status.Event{ID: "evt-9", Seq: 9, Type: status.IncidentCreated, At: at, Incident: inc, Update: &inc.Updates[0]}
	snap := &status.Snapshot{GeneratedAt: at, Indicator: status.ImpactCritical, Description: "Major System Outage",
		Components: []status.ComponentView{{ID: "api", Name: "API", Status: status.MajorOutage}}, Incidents: []*status.Incident{inc}}
	data, err := statuspage.New(statuspage.Site{ID: "acme", Name: "Acme", URL: siteURL, Location: time.UTC}, snap).WebhookData(ev)
	if err != nil {
		t.Fatal(err)
	}
	ev.Data, _ = json.Marshal(data)
	return ev
}

// A subscriber who chose format: statuspage gets Statuspage's body (meta,
// page, incident at the top level), signed with Standard Webhooks
// headers, with meta.unsubscribe a capability link for that subscriber;
// the default subscriber gets the envelope. Both passed the challenge.
func TestStatuspageFormatDelivery(t *testing.T) {
	h := newHarness(t, Options{Site: statuspage.Site{ID: "acme", Name: "Acme", URL: siteURL, Location: time.UTC}})
	seedKey(t, h.st, h.clk.Now().Add(-time.Hour))
	h.run()
	sp, env := newReceiver(t, h.clk), newReceiver(t, h.clk)
	c := h.verified(sp, Request{Format: FormatStatuspage})
	h.verified(env, Request{})
	if c.Format != FormatStatuspage {
		t.Fatalf("created = %+v", c)
	}
	// npm standardwebhooks checks the signature's time against the real
	// clock (5 minutes' tolerance): the test clock jumps to it.
	h.clk.mu.Lock()
	h.clk.t = time.Now()
	h.clk.mu.Unlock()
	h.publish(realIncident(t, h.clk.Now()))
	h.wait("both deliveries", func() bool { return len(sp.events()) == 1 && len(env.events()) == 1 })

	var body map[string]json.RawMessage
	got := sp.events()[0]
	if err := json.Unmarshal(got.Body, &body); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"meta", "page", "incident"} {
		if body[k] == nil {
			t.Errorf("statuspage body lacks %q: %s", k, got.Body)
		}
	}
	if body["data"] != nil || body["type"] != nil || got.ID != "evt-9" {
		t.Errorf("statuspage body is enveloped, or its webhook-id is not the event's (%q): %s", got.ID, got.Body)
	}
	var meta statuspage.Meta
	_ = json.Unmarshal(body["meta"], &meta)
	token, ok := strings.CutPrefix(meta.Unsubscribe, siteURL+"/unsubscribe/")
	keys, _ := h.st.SiteKeys()
	if sub, err := capability.Verify(keys, token, capability.Unsubscribe, h.clk.Now()); !ok || err != nil || sub != c.ID {
		t.Errorf("meta.unsubscribe %q names %q (%v), want a capability link for %s", meta.Unsubscribe, sub, err, c.ID)
	}
	if meta.Documentation != siteURL+"/api/openapi.json" {
		t.Errorf("meta.documentation = %q", meta.Documentation)
	}
	if e := env.events()[0]; e.Type != "incident.created" || e.Data["incident"] == nil || e.Data["page"] == nil {
		t.Errorf("envelope subscriber got %s", e.Body)
	}
	if sp.rejected.Load() != 0 || env.rejected.Load() != 0 {
		t.Fatal("a signature did not verify")
	}
	standardWebhooksVerifies(t, c.Secret, got)
}

// standardWebhooksVerifies checks a received delivery's signature with npm
// standardwebhooks, through status/web's real-client script.
func standardWebhooksVerifies(t *testing.T, secret string, got received) {
	t.Helper()
	script := filepath.Join("..", "web", "testdata", "clients", "check.js")
	if _, err := os.Stat(filepath.Join("..", "web", "testdata", "clients", "node_modules", "standardwebhooks")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("npm clients missing in CI: .ci/run must run npm ci in status/web/testdata/clients")
		}
		t.Skip("no npm clients (cd status/web/testdata/clients && npm ci)")
	}
	dir := t.TempDir()
	headers, _ := json.Marshal(map[string]string{"webhook-id": got.ID, "webhook-timestamp": strconv.FormatInt(got.Timestamp, 10),
		"webhook-signature": got.Sigs})
	os.WriteFile(filepath.Join(dir, "secrets"), []byte(secret+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "headers.json"), headers, 0o600)
	os.WriteFile(filepath.Join(dir, "body"), got.Body, 0o600)
	out, err := exec.Command("node", script, "webhook", filepath.Join(dir, "secrets"), filepath.Join(dir, "headers.json"), filepath.Join(dir, "body")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "verified "+secret[:10]) {
		t.Fatalf("standardwebhooks: %v\n%s", err, out)
	}
}

// An operator adds a subscriber through the admin API without a
// challenge: it is active at once and no challenge is sent.
func TestOperatorAddsWithoutChallenge(t *testing.T) {
	h := newHarness(t, Options{Site: statuspage.Site{ID: "acme", URL: siteURL, Location: time.UTC}})
	seedKey(t, h.st, h.clk.Now())
	h.run()
	r := newReceiver(t, h.clk)
	c, err := h.svc.Add(Request{URL: r.URL(), Format: FormatStatuspage}, status.AuditEntry{At: h.clk.Now(), Actor: "ops", Action: "create_subscription"})
	if err != nil {
		t.Fatal(err)
	}
	r.addSecret(c.Secret)
	if sub, _ := h.st.Subscription(c.ID); sub.State != store.SubActive || sub.VerifiedAt.IsZero() || sub.Format != FormatStatuspage {
		t.Fatalf("added = %+v", sub)
	}
	h.publish(realIncident(t, h.clk.Now()))
	h.wait("the delivery", func() bool { return len(r.events()) == 1 })
	if n := r.count(VerifyType); n != 0 {
		t.Fatalf("%d challenges sent to an operator's subscriber", n)
	}
	if entries, _ := h.st.AuditLog(10, time.Time{}); len(entries) != 1 || entries[0].Target != c.ID {
		t.Fatalf("audit = %+v", entries)
	}
	if _, err := h.svc.Add(Request{URL: "ftp://x"}); err == nil {
		t.Fatal("an operator's bad request was accepted")
	}
}

func TestFormatIsValidated(t *testing.T) {
	h := newHarness(t, Options{})
	for _, f := range []string{"", FormatEnvelope, FormatStatuspage} {
		if err := h.svc.Validate(Request{URL: "https://hooks.example.com/x", Format: f}); err != nil {
			t.Errorf("format %q: %v", f, err)
		}
	}
	var we *Error
	if err := h.svc.Validate(Request{URL: "https://hooks.example.com/x", Format: "xml"}); !errors.As(err, &we) || we.Field != "format" {
		t.Errorf("format xml: %v", err)
	}
}

// A site key that cannot be read is Outpost's trouble, not the
// receiver's: a statuspage-format delivery, whose meta.unsubscribe needs
// the key, is retried on the schedule (not failed for good) and not held
// against the subscriber; once the key reads again, it goes out.
func TestUnreadableSiteKeyRetries(t *testing.T) {
	h := newHarness(t, Options{Site: statuspage.Site{ID: "acme", URL: siteURL, Location: time.UTC}})
	bad := []store.Setting{{Key: "sitekey/k-bad", Value: "{not json"}}
	if _, err := h.st.Apply(store.Entry{At: h.clk.Now(), Settings: bad}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.SiteKeys(); err == nil {
		t.Fatal("the damaged key reads")
	}
	h.run()
	r := newReceiver(t, h.clk)
	c, err := h.svc.Add(Request{URL: r.URL(), Format: FormatStatuspage})
	if err != nil {
		t.Fatal(err)
	}
	r.addSecret(c.Secret)
	h.publish(realIncident(t, h.clk.Now()))
	var d store.WebhookDelivery
	h.wait("the first attempt", func() bool { d = h.lastEvent(c.ID); return len(d.Attempts) > 0 })
	if d.State != store.Pending || !d.NextAt.After(h.clk.Now()) {
		t.Fatalf("after a failed key read the delivery is %s (next %s, attempts %+v), want pending for a retry", d.State, d.NextAt, d.Attempts)
	}
	if sub, _ := h.st.Subscription(c.ID); sub.State != store.SubActive || !sub.FailingSince.IsZero() {
		t.Fatalf("the subscriber is held to our failure: %s, failing since %s", sub.State, sub.FailingSince)
	}
	// The key reads again (the damaged value replaced): the retry goes.
	good, err := store.SiteKeySettings(capability.First(bytes.Repeat([]byte{4}, 32), h.clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	fix := []store.Setting{{Key: "sitekey/k-bad", Value: good[0].Value}}
	if _, err := h.st.Apply(store.Entry{At: h.clk.Now(), Settings: fix}); err != nil {
		t.Fatal(err)
	}
	h.wait("the retried delivery", func() bool {
		h.clk.Advance(time.Minute)
		h.svc.Wake()
		return len(r.events()) == 1
	})
}
