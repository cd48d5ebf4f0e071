package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/store"
)

// fakeMastodon remembers Idempotency-Keys for an hour of its clock, as
// Mastodon does, lists the account's statuses newest first, and renders
// links as Mastodon does (an <a> whose text is shortened).
type fakeMastodon struct {
	mu       sync.Mutex
	now      func() time.Time
	keys     map[string]time.Time
	statuses []map[string]any
	srv      *httptest.Server
}

func newFakeMastodon(t *testing.T, now func() time.Time) *fakeMastodon {
	f := &fakeMastodon{now: now, keys: map[string]time.Time{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/statuses", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		defer f.mu.Unlock()
		k := r.Header.Get("Idempotency-Key")
		if at, ok := f.keys[k]; ok && f.now().Sub(at) < time.Hour {
			for _, s := range f.statuses {
				if s["key"] == k {
					json.NewEncoder(w).Encode(s)
					return
				}
			}
		}
		f.keys[k] = f.now()
		text := html.EscapeString(r.PostForm.Get("status"))
		text = regexp.MustCompile(`https?://(\S{1,20})\S*`).ReplaceAllString(text, `<a href="$0"><span>$1</span>…</a>`)
		var reply any
		if v := r.PostForm.Get("in_reply_to_id"); v != "" {
			reply = v
		}
		s := map[string]any{"id": fmt.Sprint(100 + len(f.statuses)), "key": k, "content": "<p>" + text + "</p>",
			"created_at": f.now().UTC().Format(time.RFC3339), "in_reply_to_id": reply}
		f.statuses = append([]map[string]any{s}, f.statuses...)
		json.NewEncoder(w).Encode(s)
	})
	mux.HandleFunc("GET /api/v1/accounts/verify_credentials", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"id":"42","username":"status"}`)
	})
	mux.HandleFunc("GET /api/v1/accounts/42/statuses", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		json.NewEncoder(w).Encode(f.statuses)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeMastodon) count() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.statuses) }

// A row whose first attempt posted but was never recorded (the process
// died) and is retried after Mastodon forgot its key is not posted again:
// the dispatcher finds the earlier status and records it. A row whose
// earlier attempt did not post is sent.
func TestMastodonResendAfterTheKeyWindowLooksFirst(t *testing.T) {
	for _, posted := range []bool{true, false} {
		t.Run(fmt.Sprintf("earlier attempt posted=%v", posted), func(t *testing.T) {
			var mu sync.Mutex
			clock := time.Date(2026, 3, 10, 14, 2, 0, 0, time.UTC)
			now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
			fake := newFakeMastodon(t, now)
			st := openStore(t)
			seq := enqueue(t, st, testEvent, "masto")
			ch := channel("masto", NewMastodon(fake.srv.URL, "t0ken", "public", nil), false)
			d := New(Options{Store: st, Channels: []*Channel{ch}, SiteID: "acme", Site: "Acme", SiteURL: "https://status.acme.test",
				Poll: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler), Now: now})
			first := now()
			if posted { // what the first attempt sent, as the dispatcher renders it
				msg, err := (&worker{d: d, ch: ch}).message(store.OutboxRow{Seq: seq, Event: testEvent})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ch.Notifier.Send(context.Background(), msg); err != nil {
					t.Fatal(err)
				}
			}
			mark(t, st, seq, "masto", store.Mark{To: store.Sending}, first)
			mu.Lock()
			clock = clock.Add(2 * time.Hour) // Outpost was down; Mastodon forgot the key
			mu.Unlock()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { d.Run(ctx); close(done) }()
			t.Cleanup(func() { cancel(); <-done })
			eventually(t, "the row settled", func() bool { return state(t, st, seq, "masto").State == store.Sent })
			if fake.count() != 1 {
				t.Fatalf("%d statuses, want exactly 1", fake.count())
			}
			if got := state(t, st, seq, "masto").RemoteID; got != "100" {
				t.Fatalf("recorded remote id %q, want the one status (100)", got)
			}
		})
	}
}
