package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/webhook"
)

const annAddress = "Ann.Smith@Example.org"

// seedSubscribers stores a confirmed email subscriber (with one delivery
// and its attempt), a pending one and a webhook subscriber, and returns
// the confirmed one's id.
func seedSubscribers(t *testing.T, st *store.Store) string {
	t.Helper()
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	for i, addr := range []string{annAddress, "pending@example.net"} {
		sub := store.Subscription{ID: fmt.Sprintf("em_%d", i), Kind: store.KindEmail, Address: addr, Components: []string{"api"},
			ConfirmHash: fmt.Sprintf("hash%d", i), ConfirmUntil: now.Add(24 * time.Hour), CreatedAt: now, StateAt: now, PermanentFailures: 2}
		if _, err := st.Apply(store.Entry{At: now, Subscribe: &store.NewSubscription{Sub: sub}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Apply(store.Entry{At: now.Add(time.Minute), Confirm: &store.Confirmation{TokenHash: "hash0"}}); err != nil {
		t.Fatal(err)
	}
	d := store.WebhookDelivery{Sub: "em_0", MessageID: "<outpost.evt-1.em_0@status.acme.test>", Type: "incident.created", State: store.Failed,
		CreatedAt: now.Add(time.Hour), Attempts: []store.Attempt{{At: now.Add(time.Hour), Status: 550, Error: "550 5.1.1 <" + annAddress + ">: no such user"}}}
	if _, err := st.Apply(store.Entry{At: now.Add(time.Hour), Ping: &d}); err != nil {
		t.Fatal(err)
	}
	hook := store.Subscription{ID: "sub_w", URL: "https://hooks.example.com/x", State: store.SubActive, Client: "c", CreatedAt: now}
	if _, err := st.Apply(store.Entry{At: now, Subscribe: &store.NewSubscription{Sub: hook,
		Verify: store.WebhookDelivery{Type: webhook.VerifyType, State: store.Sent, CreatedAt: now}}}); err != nil {
		t.Fatal(err)
	}
	return "em_0"
}

func listed(t *testing.T, out map[string]any) []map[string]any {
	t.Helper()
	raw, _ := out["subscriptions"].([]any)
	var subs []map[string]any
	for _, r := range raw {
		subs = append(subs, r.(map[string]any))
	}
	return subs
}

// Operators find subscribers of either kind (email ones by address,
// without case), see an email subscriber's address, and only operators
// do: webhook views are as they were. This works with webhooks off.
func TestAdminFindsEmailSubscribers(t *testing.T) {
	s, st := emailAPIServer(t, &fakeSubscriber{}, false)
	h := s.Handler()
	id := seedSubscribers(t, st)
	const ip = "203.0.113.70"
	for _, tc := range []struct {
		query string
		want  string // ids, in order
	}{
		{"", "em_0 em_1 sub_w"},
		{"?kind=email", "em_0 em_1"},
		{"?kind=webhook", "sub_w"},
		{"?email=ann.smith%40EXAMPLE.org", "em_0"},
		{"?email=ann.smith%40example.org&kind=email", "em_0"},
		{"?email=nobody%40example.org", ""},
	} {
		code, out := call(t, h, "GET", "/api/v1/subscriptions"+tc.query, readToken, "", ip)
		var ids []string
		for _, sub := range listed(t, out) {
			ids = append(ids, fmt.Sprint(sub["id"]))
		}
		if code != http.StatusOK || strings.Join(ids, " ") != tc.want {
			t.Errorf("list%s: %d %v, want ids %q", tc.query, code, out, tc.want)
		}
	}
	_, out := call(t, h, "GET", "/api/v1/subscriptions?kind=email", readToken, "", ip)
	if ann := listed(t, out)[0]; ann["kind"] != "email" || ann["address"] != annAddress || ann["state"] != "active" ||
		ann["confirmed_at"] == nil || fmt.Sprint(ann["components"]) != "[api]" || ann["confirm_hash"] != nil {
		t.Errorf("an email subscriber as listed: %v", ann)
	}
	for _, q := range []string{"?kind=sms", "?kind=email%0D", "?email=a%0A%40example.org", "?kind=webhook&email=a%40example.org"} {
		code, out := call(t, h, "GET", "/api/v1/subscriptions"+q, readToken, "", ip)
		if field, _ := errorField(out); code != http.StatusBadRequest || (field != "kind" && field != "email") {
			t.Errorf("list%s: %d %v, want 400 naming the parameter", q, code, out)
		}
	}
	code, one := call(t, h, "GET", "/api/v1/subscriptions/"+id, readToken, "", ip)
	if code != http.StatusOK || one["address"] != annAddress || one["kind"] != "email" {
		t.Errorf("show: %d %v", code, one)
	}
	if code, _ := call(t, h, "GET", "/api/v1/subscriptions/"+id, "", "", "203.0.113.71"); code != http.StatusUnauthorized {
		t.Errorf("show without a token: %d", code)
	}
	if code, _ := call(t, h, "GET", "/api/v1/subscriptions", "", "", "203.0.113.72"); code != http.StatusUnauthorized {
		t.Errorf("list without a token: %d", code)
	}
}

// An export is everything held about one subscriber, for a
// data-protection request: the subscription, its choices, its state and
// when it changed, and every delivery with its attempts.
func TestAdminExportsASubscriber(t *testing.T) {
	s, st := emailAPIServer(t, &fakeSubscriber{}, false)
	h := s.Handler()
	id := seedSubscribers(t, st)
	code, out := call(t, h, "GET", "/api/v1/subscriptions/"+id+"/export", readToken, "", "203.0.113.73")
	if code != http.StatusOK {
		t.Fatalf("export: %d %v", code, out)
	}
	sub, _ := out["subscription"].(map[string]any)
	dels, _ := out["deliveries"].([]any)
	if out["exported_at"] == nil || sub["address"] != annAddress || sub["kind"] != "email" || fmt.Sprint(sub["components"]) != "[api]" ||
		sub["maintenance"] != false || sub["state"] != "active" || sub["created_at"] == nil || sub["confirmed_at"] == nil || sub["state_changed_at"] == nil {
		t.Errorf("export's subscription: %v", out)
	}
	if len(dels) != 1 || !strings.Contains(fmt.Sprint(dels[0]), "no such user") || !strings.Contains(fmt.Sprint(dels[0]), "incident.created") {
		t.Errorf("export's deliveries: %v", dels)
	}
	if code, _ := call(t, h, "GET", "/api/v1/subscriptions/nope/export", readToken, "", "203.0.113.73"); code != http.StatusNotFound {
		t.Errorf("export of an unknown id: %d", code)
	}
	if code, _ := call(t, h, "GET", "/api/v1/subscriptions/"+id+"/export", "", "", "203.0.113.74"); code != http.StatusUnauthorized {
		t.Errorf("export without a token: %d", code)
	}
}

// Bounces and complaints fed back: disable with a reason (re-enable
// allowed), then erase at once with the deliveries; the audit says who
// did what to which id, and keeps no address (nor the reason, which may
// quote one) once the subscriber is erased.
func TestAdminDisablesAndErasesASubscriber(t *testing.T) {
	s, st := emailAPIServer(t, &fakeSubscriber{}, false)
	h := s.Handler()
	id := seedSubscribers(t, st)
	const ip = "203.0.113.75"
	path := "/api/v1/subscriptions/" + id
	reason := `{"reason":"complaint (abuse report from example.org about ` + annAddress + `)"}`
	for _, tc := range []struct {
		token, path, body string
		code              int
		field             string
	}{
		{readToken, path + "/disable", reason, http.StatusForbidden, ""},
		{"", path + "/disable", reason, http.StatusUnauthorized, ""},
		{writeToken, path + "/disable", `{}`, http.StatusBadRequest, "reason"},
		{writeToken, path + "/disable", `{"reason":"  "}`, http.StatusBadRequest, "reason"},
		{writeToken, path + "/disable", `{"reason":"bounced\r\nX-Injected: 1"}`, http.StatusBadRequest, "reason"},
		{writeToken, path + "/disable", `{"reason":"` + strings.Repeat("x", 501) + `"}`, http.StatusBadRequest, "reason"},
		{writeToken, path + "/disable", `{"reason":"x","until":"never"}`, http.StatusBadRequest, "until"},
		{writeToken, "/api/v1/subscriptions/nope/disable", reason, http.StatusNotFound, ""},
		{writeToken, "/api/v1/subscriptions/em_1/disable", reason, http.StatusConflict, ""}, // pending: nothing to stop
	} {
		code, out := call(t, h, "POST", tc.path, tc.token, tc.body, ip)
		if field, _ := errorField(out); code != tc.code || field != tc.field {
			t.Errorf("POST %s %.40s: %d %v, want %d field %q", tc.path, tc.body, code, out, tc.code, tc.field)
		}
	}
	code, out := call(t, h, "POST", path+"/disable", writeToken, reason, ip)
	if code != http.StatusOK || out["state"] != "disabled" || !strings.Contains(fmt.Sprint(out["reason"]), "complaint") {
		t.Fatalf("disable: %d %v", code, out)
	}
	if sub, _ := st.Subscription(id); sub.State != store.SubDisabled || !strings.HasPrefix(sub.Reason, "complaint") {
		t.Fatalf("stored %+v", sub)
	}
	// Re-enabled, the address starts afresh: the refusals that led to
	// the disabling no longer count towards the next one.
	if code, out := call(t, h, "POST", path+"/enable", writeToken, "", ip); code != http.StatusOK || out["state"] != "active" || out["reason"] != nil ||
		out["permanent_failures"] != 0.0 {
		t.Fatalf("enable: %d %v", code, out)
	}
	if code, out := call(t, h, "POST", path+"/disable", writeToken, `{"reason":"bounced: 550 5.1.1 user unknown"}`, ip); code != http.StatusOK {
		t.Fatalf("disable again: %d %v", code, out)
	}
	if code, out := call(t, h, "DELETE", path, writeToken, "", ip); code != http.StatusNoContent {
		t.Fatalf("erase: %d %v", code, out)
	}
	if _, err := st.Subscription(id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after erasure: %v", err)
	}
	if log, err := st.WebhookLog(id, 100); err != nil || len(log) != 0 {
		t.Errorf("deliveries after erasure: %v %v", log, err)
	}
	// Erasure, not just a delete: no earlier version of the row (the
	// address, the reason quoting it) stays readable in the file's freed
	// pages.
	if raw, err := os.ReadFile(st.Path()); err != nil || bytes.Contains(bytes.ToLower(raw), []byte(strings.ToLower(annAddress))) {
		t.Errorf("the data file still holds the erased address (read error %v)", err)
	}
	if code, _ := call(t, h, "GET", "/api/v1/subscriptions?email=ann.smith%40example.org", readToken, "", ip); code != http.StatusOK {
		t.Errorf("find after erasure: %d", code)
	}
	audit, err := st.AuditLog(100, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Actor+" "+a.Action+" "+a.Target)
	}
	if strings.Join(actions, ", ") != "ops delete_subscription em_0, ops disable_subscription em_0, ops enable_subscription em_0, ops disable_subscription em_0" {
		t.Errorf("audit (newest first): %q", actions)
	}
	all, _ := json.Marshal(audit)
	if low := strings.ToLower(string(all)); strings.Contains(low, strings.ToLower(annAddress)) || strings.Contains(low, "complaint") {
		t.Errorf("the audit keeps the address or the reason after erasure: %s", all)
	}
}
