package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/email"
	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/webhook"
)

// emailAPIServer is a server with email subscriptions on (sub), webhook
// subscriptions on or off, and admin tokens.
func emailAPIServer(t *testing.T, sub EmailSubscriber, webhooks bool) (*Server, *store.Store) {
	t.Helper()
	snap, st := fixture(t)
	o := Options{Site: config.Site{Title: "Acme Status", URL: "https://status.acme.test", TimeZone: "UTC", Location: time.UTC},
		SiteID: "acme", Store: st, Logger: slog.New(slog.DiscardHandler), Email: sub,
		Admin: &Admin{Tokens: []AdminToken{{Name: "ops", Hash: store.HashToken(writeToken)}, {Name: "viewer", Hash: store.HashToken(readToken), ReadOnly: true}}}}
	if webhooks {
		o.Webhooks = webhook.New(webhook.Options{Store: st, Logger: slog.New(slog.DiscardHandler), PerClient: 5,
			Components: func(id string) bool { return id == "api" || id == "web" || id == "db" }})
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	return s, st
}

// The validation table, on the JSON API: bad addresses, header
// injection (CR/LF in any field), oversize bodies, unknown components,
// fields of the other kind; each a 400 naming the field, and nothing asked
// of the subscriber pipeline. A good request is 202 with the same words
// whatever the address.
func TestEmailSubscriptionAPIValidation(t *testing.T) {
	fake := &fakeSubscriber{}
	s, _ := emailAPIServer(t, fake, true)
	h := s.Handler()
	for i, tc := range []struct {
		name, body, field, says string
	}{
		{"no address", `{"kind":"email"}`, "email", "Enter your email address"},
		{"empty address", `{"kind":"email","email":"  "}`, "email", "Enter your email address"},
		{"not an address", `{"kind":"email","email":"reader"}`, "email", "is not an email address"},
		{"no domain name", `{"kind":"email","email":"root@localhost"}`, "email", "must be a domain name"},
		{"an IP literal", `{"kind":"email","email":"a@[127.0.0.1]"}`, "email", "must be a domain name"},
		{"a display name", `{"kind":"email","email":"Ann <ann@example.org>"}`, "email", "without a name or <>"},
		{"two addresses", `{"kind":"email","email":"a@example.org, b@example.org"}`, "email", "one address only"},
		{"too long", `{"kind":"email","email":"` + strings.Repeat("a", 250) + `@example.org"}`, "email", "at most 254 characters"},
		{"invisible character", `{"kind":"email","email":"a\u200b@example.org"}`, "email", "only ASCII"},
		{"CRLF in the address", `{"kind":"email","email":"a@example.org\r\nBcc: v@example.org"}`, "email", "on one line"},
		{"LF in a component", `{"kind":"email","email":"a@example.org","components":["api\nBcc: x"]}`, "components", "one line"},
		{"CR in the kind", `{"kind":"email\r","email":"a@example.org"}`, "kind", "webhook or email"},
		{"unknown kind", `{"kind":"sms","email":"a@example.org"}`, "kind", "webhook or email"},
		{"unknown component", `{"kind":"email","email":"a@example.org","components":["api","nope"]}`, "components", `Unknown component "nope"`},
		{"no component", `{"kind":"email","email":"a@example.org","components":[]}`, "components", "at least one component"},
		{"components not a list", `{"kind":"email","email":"a@example.org","components":"api"}`, "components", "must be an array"},
		{"maintenance not a bool", `{"kind":"email","email":"a@example.org","maintenance":"yes"}`, "maintenance", "true or false"},
		{"a webhook's url", `{"kind":"email","email":"a@example.org","url":"https://hooks.example.com/x"}`, "url", "webhook subscriptions only"},
		{"a webhook's events", `{"kind":"email","email":"a@example.org","events":["incident.created"]}`, "events", "webhook subscriptions only"},
		{"an address on a webhook", `{"url":"https://hooks.example.com/x","email":"a@example.org"}`, "email", `"kind":"email"`},
		{"unknown field", `{"kind":"email","email":"a@example.org","name":"Ann"}`, "name", "unknown field"},
		{"duplicate key", `{"kind":"email","email":"a@example.org","email":"b@example.org"}`, "email", "duplicate key"},
		{"oversize body", `{"kind":"email","email":"a@example.org","components":["` + strings.Repeat("x", 9<<10) + `"]}`, "", "at most 8 KiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := call(t, h, "POST", "/api/v1/subscriptions", "", tc.body, fmt.Sprintf("198.51.100.%d", i+1))
			field, msg := errorField(out)
			if code != http.StatusBadRequest || field != tc.field || !strings.Contains(msg, tc.says) {
				t.Errorf("%d field %q %q, want 400 field %q with %q", code, field, msg, tc.field, tc.says)
			}
		})
	}
	if got := fake.requests(); len(got) != 0 {
		t.Fatalf("refused requests reached the subscriber: %+v", got)
	}

	codeA, a := call(t, h, "POST", "/api/v1/subscriptions", "", `{"kind":"email","email":" ann@example.org "}`, "192.0.2.40")
	codeB, b := call(t, h, "POST", "/api/v1/subscriptions", "", `{"kind":"email","email":"bob@example.org","components":["db","api"],"maintenance":false}`, "192.0.2.41")
	codeC, c := call(t, h, "POST", "/api/v1/subscriptions", "", `{"kind":"email","email":"cy@example.org","components":["api","web","db"]}`, "192.0.2.42")
	if codeA != http.StatusAccepted || codeB != codeA || codeC != codeA || fmt.Sprint(a) != fmt.Sprint(b) || fmt.Sprint(a) != fmt.Sprint(c) ||
		!strings.Contains(fmt.Sprint(a["message"]), "inbox") || a["id"] != nil || a["email"] != nil {
		t.Fatalf("answers %d %v / %d %v / %d %v: want one 202 saying to check the inbox, with no id and no address", codeA, a, codeB, b, codeC, c)
	}
	got := fake.requests()
	if len(got) != 3 || got[0].Address != "ann@example.org" || got[0].Components != nil || !got[0].Maintenance ||
		got[1].Address != "bob@example.org" || fmt.Sprint(got[1].Components) != "[api db]" || got[1].Maintenance ||
		got[2].Components != nil || !got[2].Maintenance {
		t.Fatalf("the subscriber was asked %+v", got)
	}
}

// The form and the API answer one address with the same message: one
// check (email.CheckAddress) behind both.
func TestFormAndAPIShareTheAddressCheck(t *testing.T) {
	s, _ := emailAPIServer(t, &fakeSubscriber{}, false)
	h := s.Handler()
	for i, addr := range []string{"reader", "root@localhost", "a@1.2.3.4", "Ann <a@example.org>", "a@example.org;b@example.org",
		strings.Repeat("a", 65) + "@example.org", "a@b\u00fccher.de", "a@-x-.org"} {
		body := fmt.Sprintf(`{"kind":"email","email":%q}`, addr)
		_, out := call(t, h, "POST", "/api/v1/subscriptions", "", body, fmt.Sprintf("198.51.100.%d", 100+i))
		field, apiMsg := errorField(out)
		_, checked := email.CheckAddress(addr)
		f := parseSubscribeForm([]byte("email="+url.QueryEscape(addr)), []string{"api"}, 8<<10)
		if checked == nil || len(f.Errors) != 1 || field != "email" || f.Errors[0].Message != apiMsg || apiMsg != checked.Error() {
			t.Errorf("%q: form %+v, API %q %q, check %v: want one message", addr, f.Errors, field, apiMsg, checked)
		}
	}
}

// The API's email subscriptions share the form's limits: the form's
// per-client budget spent, the API refuses that client too (and the
// other way round), 429 with Retry-After.
func TestEmailSubscriptionAPISharesTheFormsLimit(t *testing.T) {
	fake := &fakeSubscriber{}
	s, _ := emailAPIServer(t, fake, true)
	h := s.Handler()
	for i := range 5 {
		if r, _ := post(t, h, "/subscribe", "email=r%40example.net", "192.0.2.50:1"); r.StatusCode != 200 {
			t.Fatalf("form %d: %d", i, r.StatusCode)
		}
	}
	req := httptest.NewRequest("POST", "/api/v1/subscriptions", strings.NewReader(`{"kind":"email","email":"r@example.net"}`))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = "192.0.2.50:2"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"message"`) {
		t.Fatalf("API after the form's 5: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if n := len(fake.requests()); n != 5 {
		t.Fatalf("%d requests reached the subscriber, want 5", n)
	}
}

// Each kind is refused by name when it is off; with webhooks off the
// route still takes email subscriptions.
func TestSubscriptionKindsOnAndOff(t *testing.T) {
	noEmail, _ := subscriptionServer(t, 5)
	code, out := call(t, noEmail.Handler(), "POST", "/api/v1/subscriptions", "", `{"kind":"email","email":"a@example.org"}`, "192.0.2.60")
	if field, msg := errorField(out); code != http.StatusBadRequest || field != "kind" || !strings.Contains(msg, "email subscriptions are off") {
		t.Errorf("email off: %d %v", code, out)
	}
	noHooks, _ := emailAPIServer(t, &fakeSubscriber{}, false)
	code, out = call(t, noHooks.Handler(), "POST", "/api/v1/subscriptions", "", `{"url":"https://hooks.example.com/x"}`, "192.0.2.61")
	if field, msg := errorField(out); code != http.StatusBadRequest || field != "kind" || !strings.Contains(msg, "webhook subscriptions are off") {
		t.Errorf("webhooks off: %d %v", code, out)
	}
	if code, out := call(t, noHooks.Handler(), "POST", "/api/v1/subscriptions", "", `{"kind":"email","email":"a@example.org"}`, "192.0.2.62"); code != http.StatusAccepted {
		t.Errorf("webhooks off, email on: %d %v", code, out)
	}
}
