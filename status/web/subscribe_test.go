package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/email"
)

// fakeSubscriber stands in for the subscriber pipeline (another
// package's, not our storage): it records what it is asked.
type fakeSubscriber struct {
	mu   sync.Mutex
	got  []email.Request
	fail error
}

func (f *fakeSubscriber) SubscribeEmail(_ context.Context, r email.Request) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, r)
	return f.fail
}

func (f *fakeSubscriber) requests() []email.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]email.Request(nil), f.got...)
}

var testFollow = []Profile{{Kind: "mastodon", URL: "https://mastodon.example/@acme"}}

// subscribeServer is testServer with email subscriptions on (sub) or off
// (nil) and a social profile to follow.
func subscribeServer(t testing.TB, sub EmailSubscriber) *Server {
	t.Helper()
	return subscribeServerAt(t, sub, "https://status.acme.test")
}

// subscribeServerAt is subscribeServer at site URL siteURL: a browser's
// form post counts as the site's own only from that origin.
func subscribeServerAt(t testing.TB, sub EmailSubscriber, siteURL string) *Server {
	t.Helper()
	snap, st := fixture(t)
	s, err := New(Options{Site: config.Site{Title: "Acme Status", URL: siteURL, TimeZone: "UTC", Location: time.UTC},
		SiteID: "acme", Store: st, Logger: slog.New(slog.DiscardHandler), Email: sub, Follow: testFollow})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	return s
}

func post(t testing.TB, h http.Handler, path, form, remote string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = remote
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	r := rec.Result()
	return r, body(t, r)
}

// Every public page, error pages included, links to /subscribe by the
// live site's absolute URL (the static export carries the same bytes).
func TestSubscribeLinkOnEveryPage(t *testing.T) {
	s, snap := testServer(t)
	h := s.Handler()
	const link = `<a href="https://status.acme.test/subscribe">Subscribe to updates</a>`
	for _, p := range []string{"/", "/history", "/incidents/" + snap.Incidents[0].ID, "/incidents/nope", "/no/such/page"} {
		if b := body(t, get(t, h, p, "Accept", "text/html")); !strings.Contains(b, link) {
			t.Errorf("%s has no %s", p, link)
		}
	}
}

// The subscribe page lists every other way to follow; with email on, the
// email form comes first, and only then is form-action 'self'.
func TestSubscribePage(t *testing.T) {
	others := []string{`href="/feed.rss"`, `href="/feed.atom"`, `href="/feed.json"`, `href="/maintenance.ics"`,
		`href="https://mastodon.example/@acme"`}
	t.Run("email off", func(t *testing.T) {
		h := subscribeServer(t, nil).Handler()
		r := get(t, h, "/subscribe")
		b := body(t, r)
		if r.StatusCode != 200 || strings.Contains(b, "<form") {
			t.Fatalf("GET /subscribe: %d, a form: %v", r.StatusCode, strings.Contains(b, "<form"))
		}
		for _, w := range others {
			if !strings.Contains(b, w) {
				t.Errorf("the page lacks %s", w)
			}
		}
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'none'") {
			t.Errorf("a page without a form sends %q", csp)
		}
		if r, _ := post(t, h, "/subscribe", "email=r%40example.net", "192.0.2.1:1234"); r.StatusCode != 404 {
			t.Errorf("POST /subscribe without email: %d, want 404", r.StatusCode)
		}
	})
	t.Run("email on", func(t *testing.T) {
		h := subscribeServer(t, &fakeSubscriber{}).Handler()
		r := get(t, h, "/subscribe")
		b := body(t, r)
		form := strings.Index(b, `<form method="post" action="/subscribe"`)
		if r.StatusCode != 200 || form < 0 {
			t.Fatalf("GET /subscribe: %d, no email form:\n%s", r.StatusCode, b)
		}
		for _, w := range others {
			// The header's nav links some of them too: the page's own come last.
			if i := strings.LastIndex(b, w); i < form {
				t.Errorf("%s is missing or comes before the email form", w)
			}
		}
		for _, w := range []string{`name="email" type="email"`, `name="component" value="api" checked`,
			`name="component" value="web" checked`, `name="component" value="db" checked`, `<legend>Platform</legend>`,
			`name="events" value="all" checked`, `name="events" value="incidents"`, `name="nickname_hp"`, `name="listed" value="1"`} {
			if !strings.Contains(b, w) {
				t.Errorf("the form lacks %s", w)
			}
		}
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") {
			t.Errorf("the page with the form sends %q", csp)
		}
		if csp := get(t, h, "/").Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'none'") {
			t.Errorf("the status page, which has no form, sends %q", csp)
		}
	})
}

// POST /subscribe: valid forms reach the subscriber and answer "check
// your inbox" in the same words for any address; a filled honeypot gets
// the same answer and reaches nobody; bad forms are shown again with the
// messages and a 400.
func TestSubscribePost(t *testing.T) {
	fake := &fakeSubscriber{}
	h := subscribeServer(t, fake).Handler()
	_, known := post(t, h, "/subscribe", "email=known%40example.net", "192.0.2.1:1")
	_, unknown := post(t, h, "/subscribe", "email=someone.else%40example.org&listed=1&component=db&events=incidents", "192.0.2.2:1")
	_, bot := post(t, h, "/subscribe", "email=bot%40example.org&nickname_hp=hello", "192.0.2.3:1")
	if !strings.Contains(known, "Check your inbox") || known != unknown || known != bot {
		t.Errorf("the answers differ or do not say \"Check your inbox\":\n%s\n---\n%s\n---\n%s", known, unknown, bot)
	}
	want := []email.Request{{Address: "known@example.net", Maintenance: true}, {Address: "someone.else@example.org", Components: []string{"db"}}}
	if got := fake.requests(); len(got) != 2 || got[0].Address != want[0].Address || !got[0].Maintenance || got[0].Components != nil ||
		got[1].Address != want[1].Address || got[1].Maintenance || len(got[1].Components) != 1 || got[1].Components[0] != "db" {
		t.Errorf("the subscriber was asked %+v, want %+v", got, want)
	}
	for _, tc := range []struct {
		name, form string
		hdr        []string
		code       int
		says       string
	}{
		{"bad address", "email=reader%40localhost", nil, 400, "must be a domain name"},
		{"header injection", "email=r%40example.net%0D%0ABcc%3A+v%40example.org", nil, 400, "must be on one line"},
		{"unknown component", "email=r%40example.net&listed=1&component=nope", nil, 400, "Unknown component &#34;nope&#34;"},
		{"oversize body", "email=r%40example.net&x=" + strings.Repeat("y", 64<<10), nil, 400, "The form is too large"},
		{"cross-site", "email=r%40example.net", []string{"Origin", "https://evil.example"}, 403, "only takes submissions from its own page"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, b := post(t, h, "/subscribe", tc.form, "198.51.100.7:1", tc.hdr...)
			if r.StatusCode != tc.code || !strings.Contains(b, tc.says) {
				t.Errorf("%d, want %d with %q:\n%s", r.StatusCode, tc.code, tc.says, b)
			}
			if tc.code == 400 && (!strings.Contains(b, `<form method="post" action="/subscribe"`) || !strings.Contains(r.Header.Get("Content-Security-Policy"), "form-action 'self'")) {
				t.Error("a refused form is not shown again with form-action 'self'")
			}
		})
	}
	if len(fake.requests()) != 2 {
		t.Errorf("refused forms reached the subscriber: %+v", fake.requests())
	}
}

// Each client (an IPv4 address, an IPv6 /64) gets a few submissions, then
// 429; another client is not held back.
func TestSubscribeRateLimit(t *testing.T) {
	h := subscribeServer(t, &fakeSubscriber{}).Handler()
	limited := 0
	for i := range 20 {
		addr := "[2001:db8:1:2::" + string(rune('a'+i%6)) + "]:1" // one /64, several addresses
		if r, _ := post(t, h, "/subscribe", "email=r%40example.net", addr); r.StatusCode == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited < 10 {
		t.Errorf("only %d of 20 submissions from one /64 were refused", limited)
	}
	if r, _ := post(t, h, "/subscribe", "email=r%40example.net", "[2001:db8:1:3::1]:1"); r.StatusCode != 200 {
		t.Errorf("another /64 was refused: %d", r.StatusCode)
	}
}

// A failing subscriber is a clear, generic 503: no raw error on the page.
func TestSubscribeFailure(t *testing.T) {
	h := subscribeServer(t, &fakeSubscriber{fail: errors.New("bbolt: disk full at /var/lib/outpost")}).Handler()
	r, b := post(t, h, "/subscribe", "email=r%40example.net", "192.0.2.9:1")
	if r.StatusCode != http.StatusServiceUnavailable || strings.Contains(b, "bbolt") || !strings.Contains(b, "try again") {
		t.Errorf("%d:\n%s", r.StatusCode, b)
	}
}

func TestGoldenSubscribePages(t *testing.T) {
	golden(t, "subscribe.html", body(t, get(t, subscribeServer(t, &fakeSubscriber{}).Handler(), "/subscribe")))
	golden(t, "subscribe-no-email.html", body(t, get(t, subscribeServer(t, nil).Handler(), "/subscribe")))
}

// Follow lists public channels' profiles only.
func TestFollowPublicChannelsOnly(t *testing.T) {
	pub := config.Channel{Name: "toot", Audience: "public", ProfileURL: "https://mastodon.example/@acme"}
	pub.Kind = "mastodon"
	ops := config.Channel{Name: "ops", Audience: "operators", ProfileURL: "https://chat.example/ops"}
	ops.Kind = "slack"
	none := config.Channel{Name: "bsky", Audience: "public"}
	none.Kind = "bluesky"
	got := Follow([]config.Channel{pub, ops, none})
	if len(got) != 1 || got[0] != (Profile{Kind: "mastodon", URL: "https://mastodon.example/@acme"}) {
		t.Errorf("Follow = %+v, want only the public mastodon profile", got)
	}
}

// The page is rendered once, however often it is asked for.
func TestSubscribePageRenderedOnce(t *testing.T) {
	s := subscribeServer(t, &fakeSubscriber{})
	h := s.Handler()
	before := s.lazy.renders.Load()
	for range 20 {
		if r := get(t, h, "/subscribe"); r.StatusCode != 200 {
			t.Fatalf("GET /subscribe: %d", r.StatusCode)
		}
	}
	if n := s.lazy.renders.Load() - before; n != 1 {
		t.Errorf("20 requests rendered the page %d times, want 1", n)
	}
}
