package web

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/statuspage"
	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/webhook"
)

const (
	writeToken = "admin-token-0123456789"
	readToken  = "reader-token-0123456789"
)

func subscriptionServer(t *testing.T, perClient int) (*Server, *store.Store) {
	t.Helper()
	snap, st := fixture(t)
	wh := webhook.New(webhook.Options{Store: st, Logger: slog.New(slog.DiscardHandler), PerClient: perClient,
		Components: func(id string) bool { return id == "api" || id == "web" || id == "db" }})
	s, err := New(Options{Site: config.Site{Title: "Acme Status", URL: "https://status.acme.test", TimeZone: "UTC", Location: time.UTC},
		SiteID: "acme", Store: st, Logger: slog.New(slog.DiscardHandler), Webhooks: wh,
		Admin: &Admin{Tokens: []AdminToken{{Name: "ops", Hash: store.HashToken(writeToken)}, {Name: "viewer", Hash: store.HashToken(readToken), ReadOnly: true}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	return s, st
}

// call sends one request from addr and decodes the JSON answer.
func call(t *testing.T, h http.Handler, method, path, token, body, addr string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = addr + ":40000"
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, path, rec.Body)
		}
	}
	return rec.Code, out
}

func errorField(m map[string]any) (string, string) {
	e, _ := m["error"].(map[string]any)
	f, _ := e["field"].(string)
	msg, _ := e["message"].(string)
	return f, msg
}

func TestSubscriptionAPI(t *testing.T) {
	s, st := subscriptionServer(t, 5)
	h := s.Handler()
	const ip = "198.51.100.10"

	code, created := call(t, h, "POST", "/api/v1/subscriptions", "", `{"url":"https://hooks.example.com/status","components":["api"]}`, ip)
	if code != http.StatusCreated || created["state"] != "pending" || !strings.HasPrefix(fmt.Sprint(created["secret"]), "whsec_") ||
		!strings.HasPrefix(fmt.Sprint(created["unsubscribe_token"]), "ust_") {
		t.Fatalf("create: %d %v", code, created)
	}
	id, owner := created["id"].(string), created["unsubscribe_token"].(string)

	// Bad requests name the field.
	for _, tc := range []struct{ body, field, msg string }{
		{`{"url":"http://hooks.example.com/x"}`, "url", "https"},
		{`{"url":"https://u:p@hooks.example.com/x"}`, "url", "credentials"},
		{`{"url":"https://hooks.example.com/x","components":["nope"]}`, "components[0]", "unknown component"},
		{`{"url":"https://hooks.example.com/x","events":["check.failed"]}`, "events[0]", "unknown event"},
		{`{"url":"https://hooks.example.com/x","colour":"red"}`, "colour", "unknown field"},
		{`{"url":42}`, "url", "must be a string"},
		{`not json`, "", "invalid JSON"},
	} {
		code, body := call(t, h, "POST", "/api/v1/subscriptions", "", tc.body, "198.51.100.11")
		field, msg := errorField(body)
		if code != http.StatusBadRequest || field != tc.field || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %d field %q message %q", tc.body, code, field, msg)
		}
	}

	// Reading and changing one subscription takes its token (or an admin's).
	path := "/api/v1/subscriptions/" + id
	if code, _ := call(t, h, "GET", path, "", "", ip); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	if code, _ := call(t, h, "GET", path, "ust_wrong", "", ip); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	code, view := call(t, h, "GET", path, owner, "", ip)
	if code != http.StatusOK || view["state"] != "pending" || view["secret"] != nil || view["client"] != nil {
		t.Fatalf("owner view: %d %v", code, view)
	}
	code, rot := call(t, h, "POST", path+"/rotate", owner, "", ip)
	if code != http.StatusOK || rot["secret"] == created["secret"] || !strings.HasPrefix(fmt.Sprint(rot["secret"]), "whsec_") {
		t.Fatalf("rotate: %d %v", code, rot)
	}

	if code, out := call(t, h, "POST", path+"/ping", owner, "", ip); code != http.StatusConflict {
		t.Fatalf("ping while pending: %d %v", code, out)
	}

	// Admins list, pause and re-enable; owners cannot pause.
	verified := &store.SubscriptionChange{ID: id, State: store.SubActive, From: []store.SubState{store.SubPending}}
	if _, err := st.Apply(store.Entry{At: time.Now(), Subscription: verified}); err != nil {
		t.Fatal(err)
	}
	if code, _ := call(t, h, "GET", "/api/v1/subscriptions", "", "", ip); code != http.StatusUnauthorized {
		t.Fatalf("list without a token: %d", code)
	}
	code, list := call(t, h, "GET", "/api/v1/subscriptions", readToken, "", ip)
	subs, _ := list["subscriptions"].([]any)
	if code != http.StatusOK || len(subs) != 1 || subs[0].(map[string]any)["client"] != ip {
		t.Fatalf("admin list: %d %v", code, list)
	}
	if code, _ := call(t, h, "POST", path+"/pause", owner, "", ip); code != http.StatusForbidden {
		t.Fatalf("owner pause: %d", code)
	}
	if code, _ := call(t, h, "POST", path+"/pause", readToken, "", ip); code != http.StatusForbidden {
		t.Fatalf("read-only pause: %d", code)
	}
	if code, v := call(t, h, "POST", path+"/pause", writeToken, "", ip); code != http.StatusOK || v["state"] != "paused" {
		t.Fatalf("admin pause: %d %v", code, v)
	}
	if code, v := call(t, h, "POST", path+"/enable", owner, "", ip); code != http.StatusOK || v["state"] != "active" {
		t.Fatalf("owner enable: %d %v", code, v)
	}
	if code, out := call(t, h, "POST", path+"/ping", owner, "", ip); code != http.StatusAccepted || !strings.HasPrefix(fmt.Sprint(out["message_id"]), "msg_ping_") {
		t.Fatalf("ping: %d %v", code, out)
	}
	code, dl := call(t, h, "GET", path+"/deliveries", owner, "", ip)
	if ds, _ := dl["deliveries"].([]any); code != http.StatusOK || len(ds) != 2 || ds[0].(map[string]any)["type"] != webhook.PingType ||
		ds[1].(map[string]any)["type"] != webhook.VerifyType {
		t.Fatalf("delivery log: %d %v", code, dl)
	}
	audit, _ := st.AuditLog(10, time.Time{})
	if len(audit) == 0 || audit[0].Action != "pause_subscription" || audit[0].Actor != "ops" {
		t.Fatalf("audit = %+v", audit)
	}

	// Unsubscribing.
	if code, _ := call(t, h, "DELETE", path, "ust_wrong", "", ip); code != http.StatusUnauthorized {
		t.Fatalf("delete with a wrong token: %d", code)
	}
	if code, _ := call(t, h, "DELETE", path, owner, "", ip); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if code, body := call(t, h, "GET", path, writeToken, "", ip); code != http.StatusNotFound {
		t.Fatalf("after delete: %d %v", code, body)
	}
}

func TestSubscriptionLimits(t *testing.T) {
	s, _ := subscriptionServer(t, 2)
	h := s.Handler()
	body := `{"url":"https://hooks.example.com/status"}`
	for i := range 3 {
		code, out := call(t, h, "POST", "/api/v1/subscriptions", "", body, "203.0.113.5")
		if want := map[bool]int{true: http.StatusCreated, false: http.StatusTooManyRequests}[i < 2]; code != want {
			t.Fatalf("subscription %d from one address: %d %v, want %d", i+1, code, out, want)
		}
	}
	// An IPv6 host is counted by its /64: two addresses in one share a cap.
	for i, addr := range []string{"[2001:db8:7:7::1]", "[2001:db8:7:7::2]", "[2001:db8:7:7::3]"} {
		code, _ := call(t, h, "POST", "/api/v1/subscriptions", "", body, addr)
		if want := map[bool]int{true: http.StatusCreated, false: http.StatusTooManyRequests}[i < 2]; code != want {
			t.Fatalf("IPv6 subscription %d in one /64: %d, want %d", i+1, code, want)
		}
	}
	// Requests are rate-limited per address: a burst of 10, then 429.
	var last int
	for range 11 {
		last, _ = call(t, h, "POST", "/api/v1/subscriptions", "", `{"url":"ftp://x"}`, "203.0.113.6")
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("11th request in a burst: %d", last)
	}
	if code, _ := call(t, h, "POST", "/api/v1/subscriptions", "", `{"url":"ftp://x"}`, "203.0.113.7"); code != http.StatusBadRequest {
		t.Fatalf("another address is not limited: %d", code)
	}
	big := `{"url":"https://hooks.example.com/` + strings.Repeat("a", 9000) + `"}`
	if code, out := call(t, h, "POST", "/api/v1/subscriptions", "", big, "203.0.113.8"); code != http.StatusBadRequest {
		t.Fatalf("oversized body: %d %v", code, out)
	}
	// The same without a Content-Length (chunked).
	req := httptest.NewRequest("POST", "/api/v1/subscriptions", io.MultiReader(strings.NewReader(big)))
	req.ContentLength, req.RemoteAddr = -1, "203.0.113.9:40000"
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "at most 8 KiB") {
		t.Fatalf("oversized chunked body: %d %s", rec.Code, rec.Body)
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.7":         "198.51.100.7",
		"::ffff:198.51.100.7":  "198.51.100.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"fe80::1%eth0":         "fe80::/64",
		"not an address":       "not an address",
	} {
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// Webhook bodies carry Statuspage's webhook objects: the page, then the
// incident or the component and its update, as /api/v2 shows them.
func TestWebhookData(t *testing.T) {
	s, snap := testServer(t)
	asMap := func(v any) map[string]any {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	pageSchema := schema{"id": str, "status_indicator": str, "status_description": str}

	inc := snap.Incidents[0]
	d, err := statuspage.New(s.site(), snap).WebhookData(status.Event{ID: "evt-9", Type: status.IncidentCreated, At: t0, Incident: inc})
	if err != nil {
		t.Fatal(err)
	}
	m := asMap(d)
	page := pageSchema.check(t, "page", m["page"])
	if page["id"] != "acme" || page["status_indicator"] != string(snap.Indicator) {
		t.Fatalf("page = %v", page)
	}
	got := incidentSchema.check(t, "incident", m["incident"])
	if got["id"] != inc.ID || len(got["incident_updates"].([]any)) != len(inc.Updates) {
		t.Fatalf("incident = %v", got)
	}

	d, err = statuspage.New(s.site(), snap).WebhookData(status.Event{ID: "evt-10", Type: status.ComponentStatusChanged, At: t0,
		Component: &status.ComponentEvent{ID: "api", Name: "API", OldStatus: status.Operational, NewStatus: status.MajorOutage}})
	if err != nil {
		t.Fatal(err)
	}
	m = asMap(d)
	pageSchema.check(t, "page", m["page"])
	comp := componentSchema.check(t, "component", m["component"])
	upd := schema{"id": str, "component_id": str, "old_status": str, "new_status": str, "created_at": str}.check(t, "component_update", m["component_update"])
	if comp["status"] != "major_outage" || upd["component_id"] != "api" || upd["old_status"] != "operational" || upd["new_status"] != "major_outage" {
		t.Fatalf("component %v, update %v", comp, upd)
	}
	if _, err := statuspage.New(s.site(), snap).WebhookData(status.Event{ID: "evt-11", Type: status.MonitorDelayed}); err == nil {
		t.Fatal("a monitor event made a webhook body")
	}
}

// What the server records takes its injected clock: an admin's pause is
// audited at the server's time, with the change.
func TestAdminSubscriptionChangeIsAuditedAtTheServersTime(t *testing.T) {
	snap, st := fixture(t)
	at := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	wh := webhook.New(webhook.Options{Store: st, Logger: slog.New(slog.DiscardHandler), PerClient: 5})
	s, err := New(Options{Site: config.Site{Title: "Acme Status", URL: "https://status.acme.test", TimeZone: "UTC", Location: time.UTC},
		SiteID: "acme", Store: st, Logger: slog.New(slog.DiscardHandler), Webhooks: wh, Now: func() time.Time { return at },
		Admin: &Admin{Tokens: []AdminToken{{Name: "ops", Hash: store.HashToken(writeToken)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := st.Apply(store.Entry{At: now, Subscribe: &store.NewSubscription{Sub: store.Subscription{ID: "sub_x", URL: "https://hooks.example.com/x", State: store.SubActive, Client: "c", CreatedAt: now},
		Verify: store.WebhookDelivery{Type: webhook.VerifyType, State: store.Sent, CreatedAt: now}, PerClient: 5}}); err != nil {
		t.Fatal(err)
	}
	if code, out := call(t, s.Handler(), "POST", "/api/v1/subscriptions/sub_x/pause", writeToken, "", "203.0.113.30"); code != 200 {
		t.Fatalf("pause: %d %v", code, out)
	}
	audit, err := st.AuditLog(10, time.Time{})
	if err != nil || len(audit) != 1 || audit[0].Action != "pause_subscription" || !audit[0].At.Equal(at) || audit[0].Actor != "ops" {
		t.Fatalf("audit %+v %v", audit, err)
	}
}
