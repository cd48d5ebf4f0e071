package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/capability"
	"github.com/outpost-status/outpost/status/store"
)

// seedEmail stores a pending email subscriber whose confirmation token is
// token, valid until until.
func seedEmail(t *testing.T, st *store.Store, id, token string, until time.Time) {
	t.Helper()
	now := time.Now()
	sub := store.Subscription{ID: id, Kind: store.KindEmail, Address: id + "@example.net", ConfirmHash: store.HashToken(token),
		ConfirmUntil: until, CreatedAt: now, StateAt: now}
	if _, err := st.Apply(store.Entry{At: now, Subscribe: &store.NewSubscription{Sub: sub}}); err != nil {
		t.Fatal(err)
	}
}

func subState(t *testing.T, st *store.Store, id string) store.SubState {
	t.Helper()
	sub, err := st.Subscription(id)
	if err != nil {
		t.Fatal(err)
	}
	return sub.State
}

// With email on and webhooks off, an email subscriber's capability
// unsubscribe link (the mails' List-Unsubscribe URL) works: the GET shows
// the button, the one-click POST deletes the subscriber.
func TestUnsubscribeEmailSubscriber(t *testing.T) {
	s := subscribeServer(t, &fakeSubscriber{})
	st, h := s.o.Store, s.Handler()
	key := seedSiteKey(t, st, time.Now().Add(-time.Hour))
	seedEmail(t, st, "em_a", "tok-a", time.Now().Add(time.Hour))
	tok, err := capability.Sign(key, "em_a", capability.Unsubscribe, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if rec := sendForm(t, h, http.MethodGet, "/unsubscribe/"+tok, "", nil); rec.Code != http.StatusOK || !subscribed(t, st, "em_a") {
		t.Fatalf("GET: %d %s", rec.Code, rec.Body)
	}
	rec := sendForm(t, h, http.MethodPost, "/unsubscribe/"+tok, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if rec.Code != http.StatusOK || subscribed(t, st, "em_a") {
		t.Fatalf("one-click: %d %s (still subscribed: %v)", rec.Code, rec.Body, subscribed(t, st, "em_a"))
	}
}

// A confirmation link's GET shows one button and changes nothing; its
// same-site POST confirms; an unknown, expired or used link and a
// cross-site post each get a clear page and change nothing.
func TestConfirmLink(t *testing.T) {
	s := subscribeServer(t, &fakeSubscriber{})
	st, h := s.o.Store, s.Handler()
	seedEmail(t, st, "em_good", "tok-good", time.Now().Add(24*time.Hour))
	seedEmail(t, st, "em_old", "tok-old", time.Now().Add(-time.Minute))
	own := []string{"Origin", "https://status.acme.test"}

	rec := sendForm(t, h, http.MethodGet, "/confirm/tok-good", "", nil)
	page := rec.Body.String()
	if rec.Code != http.StatusOK || strings.Count(page, "<form") != 1 || !strings.Contains(page, `<form method="post">`) ||
		!strings.Contains(page, ">Confirm</button>") || rec.Header().Get("Cache-Control") != CacheNone {
		t.Fatalf("GET: %d %s", rec.Code, page)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") {
		t.Fatalf("GET: CSP %q does not let the button post to its own page", csp)
	}
	if subState(t, st, "em_good") != store.SubPending {
		t.Fatal("a GET confirmed")
	}
	for _, tc := range []struct {
		name, method, path string
		hdr                []string
		code               int
		says               string
	}{
		{"cross-site", http.MethodPost, "/confirm/tok-good", []string{"Origin", "https://evil.example"}, http.StatusForbidden, "own page"},
		{"unknown", http.MethodPost, "/confirm/tok-nope", own, http.StatusNotFound, "not valid"},
		{"unknown GET", http.MethodGet, "/confirm/tok-nope", nil, http.StatusNotFound, "not valid"},
		{"expired", http.MethodPost, "/confirm/tok-old", own, http.StatusBadRequest, "expired"},
		{"expired GET", http.MethodGet, "/confirm/tok-old", nil, http.StatusBadRequest, "expired"},
		{"oversized token", http.MethodPost, "/confirm/" + strings.Repeat("a", 300), own, http.StatusNotFound, "not valid"},
		{"confirm", http.MethodPost, "/confirm/tok-good", own, http.StatusOK, "subscription is confirmed"},
		{"twice", http.MethodPost, "/confirm/tok-good", own, http.StatusOK, "already confirmed"},
		{"GET after", http.MethodGet, "/confirm/tok-good", nil, http.StatusOK, "already confirmed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r *http.Response
			var b string
			if tc.method == http.MethodGet {
				rec := sendForm(t, h, http.MethodGet, tc.path, "", nil)
				r, b = rec.Result(), rec.Body.String()
			} else {
				r, b = post(t, h, tc.path, "", "203.0.113.7:4000", tc.hdr...)
			}
			if r.StatusCode != tc.code || !strings.Contains(b, tc.says) {
				t.Fatalf("%d: %s", r.StatusCode, b)
			}
			for _, leak := range []string{"goroutine", "em_", "token_hash", "bolt"} {
				if strings.Contains(b, leak) {
					t.Fatalf("the page shows %q: %s", leak, b)
				}
			}
		})
	}
	if subState(t, st, "em_good") != store.SubActive || subState(t, st, "em_old") != store.SubPending {
		t.Fatalf("states: good %s, old %s", subState(t, st, "em_good"), subState(t, st, "em_old"))
	}
}
