package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
)

// fakeAPI records requests and answers with a scripted status.
type fakeAPI struct {
	mu       sync.Mutex
	reqs     []*http.Request
	bodies   []map[string]any
	status   int
	header   map[string]string
	stall    chan struct{}
	response string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil { // Mastodon posts a form
		_ = r.ParseForm()
		v = map[string]any{}
		for k := range r.PostForm {
			v[k] = r.PostForm.Get(k)
		}
		if len(b) > 0 {
			q, _ := urlValues(string(b))
			for k, x := range q {
				v[k] = x
			}
		}
	}
	f.mu.Lock()
	f.reqs, f.bodies = append(f.reqs, r), append(f.bodies, v)
	code, hdr, stall, resp := f.status, f.header, f.stall, f.response
	f.mu.Unlock()
	if stall != nil {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}
	for k, x := range hdr {
		w.Header().Set(k, x)
	}
	if code == 0 {
		code = 200
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	io.WriteString(w, resp)
}

func (f *fakeAPI) last() (*http.Request, map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		return nil, nil
	}
	return f.reqs[len(f.reqs)-1], f.bodies[len(f.bodies)-1]
}

// channelCase builds one notifier against a fake.
type channelCase struct {
	name     string
	make     func(url string) Notifier
	response string
	check    func(t *testing.T, r *http.Request, body map[string]any, remote string)
}

var testEvent = status.Event{ID: "evt-7", Type: status.IncidentCreated, At: time.Date(2026, 3, 10, 14, 2, 0, 0, time.UTC),
	Incident: &status.Incident{ID: "inc-3", Name: "API is unavailable", Status: status.Investigating, Impact: status.ImpactCritical, Components: []string{"api"}},
	Update:   &status.Update{Status: status.Investigating, Body: "We are investigating connection failures affecting API since 14:02 UTC."},
	Private:  &status.Private{Checks: []status.CheckDetail{{Name: "api-health", Reason: "connection_refused", Message: "dial tcp 10.0.0.5:443: refused"}}}}

func testMessage(operators bool) Message {
	return Message{Key: "outpost-acme-12-x", Event: testEvent, Title: "API is unavailable",
		Text: "We are investigating connection failures affecting API since 14:02 UTC.", URL: "https://status.acme.test/incidents/inc-3",
		ReplyTo: "", Operators: operators}
}

var cases = []channelCase{
	{"x", func(u string) Notifier {
		return NewX("2", u, XCredentials{ConsumerKey: "ck", ConsumerSecret: "cs", AccessToken: "at", AccessSecret: "as"}, nil)
	}, `{"data":{"id":"55","text":"x"}}`,
		func(t *testing.T, r *http.Request, b map[string]any, remote string) {
			if r.URL.Path != "/2/tweets" || !strings.HasPrefix(r.Header.Get("Authorization"), "OAuth ") ||
				!strings.Contains(b["text"].(string), "connection failures") || remote != "55" {
				t.Errorf("x request %s %v remote %q", r.URL.Path, b, remote)
			}
		}},
	{"bluesky", func(u string) Notifier {
		return NewBluesky(u, "status.example.com", "pw", http.DefaultClient, memSessions{})
	}, `{"accessJwt":"a","refreshJwt":"r","did":"did:plc:x","uri":"at://did:plc:x/app.bsky.feed.post/k","cid":"bafyk"}`,
		func(t *testing.T, r *http.Request, b map[string]any, remote string) {
			rec, _ := b["record"].(map[string]any)
			if r.URL.Path != "/xrpc/com.atproto.repo.putRecord" || r.Header.Get("Authorization") != "Bearer a" || rec == nil ||
				!strings.Contains(rec["text"].(string), "connection failures") || remote != "at://did:plc:x/app.bsky.feed.post/k bafyk" {
				t.Errorf("bluesky request %s %v remote %q", r.URL.Path, b, remote)
			}
		}},
	{"mastodon", func(u string) Notifier { return NewMastodon(u, "secret-token", "unlisted", nil) }, `{"id":"1101"}`,
		func(t *testing.T, r *http.Request, b map[string]any, remote string) {
			if r.URL.Path != "/api/v1/statuses" || r.Header.Get("Authorization") != "Bearer secret-token" ||
				r.Header.Get("Idempotency-Key") != "outpost-acme-12-x" || b["visibility"] != "unlisted" ||
				!strings.Contains(b["status"].(string), "connection failures") || remote != "1101" {
				t.Errorf("mastodon request %s %v %v, remote %q", r.URL.Path, r.Header, b, remote)
			}
		}},
	{"slack", func(u string) Notifier { return NewSlack(u+"/hook", http.DefaultClient) }, `ok`,
		func(t *testing.T, r *http.Request, b map[string]any, remote string) {
			raw := plainJSON(b)
			if r.URL.Path != "/hook" || !strings.Contains(string(raw), "<https://status.acme.test/incidents/inc-3|API is unavailable>") ||
				!strings.Contains(string(raw), `"color":"#cf222e"`) || !strings.Contains(string(raw), "10.0.0.5") {
				t.Errorf("slack payload %s", raw)
			}
		}},
	{"discord", func(u string) Notifier { return NewDiscord(u+"/hook", http.DefaultClient) }, `{"id":"9001"}`,
		func(t *testing.T, r *http.Request, b map[string]any, remote string) {
			raw := plainJSON(b)
			if r.URL.Query().Get("wait") != "true" || !strings.Contains(string(raw), `"url":"https://status.acme.test/incidents/inc-3"`) ||
				!strings.Contains(string(raw), `"color":13574702`) || remote != "9001" {
				t.Errorf("discord payload %s %s remote %q", r.URL, raw, remote)
			}
		}},
	{"pagerduty", func(u string) Notifier { return NewPagerDuty(u, "R0UTING", http.DefaultClient) }, `{"status":"success","dedup_key":"inc-3"}`,
		func(t *testing.T, r *http.Request, b map[string]any, remote string) {
			if r.URL.Path != "/v2/enqueue" || b["routing_key"] != "R0UTING" || b["event_action"] != "trigger" || b["dedup_key"] != "inc-3" ||
				b["payload"].(map[string]any)["severity"] != "critical" || remote != "inc-3" {
				t.Errorf("pagerduty payload %v", b)
			}
		}},
}

// Every channel passes the same suite.
func TestChannels(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeAPI{response: c.response}
			srv := httptest.NewServer(f)
			defer srv.Close()
			n := c.make(srv.URL)
			ctx := context.Background()

			remote, err := n.Send(ctx, testMessage(true))
			if err != nil {
				t.Fatal(err)
			}
			r, body := f.last()
			c.check(t, r, body, remote)

			f.status = 503
			if _, err := n.Send(ctx, testMessage(true)); err == nil || IsPermanent(err) {
				t.Errorf("503: %v, want a retryable error", err)
			}
			f.status = 400
			if _, err := n.Send(ctx, testMessage(true)); !IsPermanent(err) {
				t.Errorf("400: %v, want a permanent error", err)
			}
			f.status = 0
			f.stall = make(chan struct{})
			sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			start := time.Now()
			_, err = n.Send(sctx, testMessage(true))
			cancel()
			close(f.stall)
			if err == nil || time.Since(start) > 2*time.Second {
				t.Errorf("a stalled server: %v after %v", err, time.Since(start))
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	f := &fakeAPI{status: 429, header: map[string]string{"Retry-After": "7"}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	_, err := NewSlack(srv.URL, http.DefaultClient).Send(context.Background(), testMessage(false))
	var ra *RetryAfterError
	if !errors.As(err, &ra) || ra.After != 7*time.Second || retryWait(ChannelBackoff(), 1, err) != 7*time.Second {
		t.Fatalf("429 Retry-After: %v", err)
	}
}

// Public channels never see operators' details.
func TestPublicTextIsPrivate(t *testing.T) {
	tx, _ := NewTexts(nil)
	pub, _ := tx.Render(Data("Acme", "https://status.acme.test", testEvent, false), false)
	ops, _ := tx.Render(Data("Acme", "https://status.acme.test", testEvent, true), true)
	if strings.Contains(pub, "api-health") || strings.Contains(pub, "10.0.0.5") {
		t.Errorf("public text leaks: %s", pub)
	}
	if !strings.Contains(ops, "api-health") || !strings.Contains(ops, "10.0.0.5") {
		t.Errorf("operators text lacks details: %s", ops)
	}
	if pub != "API is unavailable (investigating): We are investigating connection failures affecting API since 14:02 UTC." {
		t.Errorf("public text %q", pub)
	}
	custom, err := NewTexts(map[string]string{"incident.created": "🚨 {{.Title}} {{.URL}}"})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := custom.Render(Data("Acme", "https://s.test", testEvent, false), false); s != "🚨 API is unavailable https://s.test/incidents/inc-3" {
		t.Errorf("override %q", s)
	}
	if _, err := NewTexts(map[string]string{"incident.created": "{{.Title"}); err == nil {
		t.Error("a broken template was accepted")
	}
}

func TestFitForMastodon(t *testing.T) {
	link := "https://status.example.com/incidents/inc-1234567890-with-a-very-long-path-that-counts-as-23"
	long := strings.Repeat("word ", 200) + "https://elsewhere.example/x tail"
	got := Fit(long, link, MastodonLimit, MastodonLength)
	if MastodonLength(got) > MastodonLimit || !strings.HasSuffix(got, " "+link) || !strings.Contains(got, "… ") {
		t.Fatalf("fit %d chars: %q", MastodonLength(got), got)
	}
	if MastodonLength("é "+link) != 2+23 {
		t.Errorf("length %d", MastodonLength("é "+link))
	}
	short := Fit("Short.", link, MastodonLimit, MastodonLength)
	if short != "Short. "+link {
		t.Errorf("short text changed: %q", short)
	}
	// Never ends on a cut link.
	withLink := strings.Repeat("a ", 230) + "https://x.example/long-link " + strings.Repeat("b ", 50)
	if got := Fit(withLink, link, 500, MastodonLength); strings.Contains(got, "https://x.example/long-link…") {
		t.Errorf("a link was cut: %q", got)
	}
}

func urlValues(s string) (map[string]string, error) {
	out := map[string]string{}
	for kv := range strings.SplitSeq(s, "&") {
		k, v, _ := strings.Cut(kv, "=")
		k, _ = urlUnescape(k)
		v, _ = urlUnescape(v)
		out[k] = v
	}
	return out, nil
}

// plainJSON marshals without HTML escaping, to compare with what was sent.
func plainJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return b.String()
}
