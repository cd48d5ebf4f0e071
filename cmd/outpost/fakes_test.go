package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeNetworks are the four channels' APIs on loopback. Each records what
// it was asked, can hold its replies back, and de-duplicates as the real
// service does (Mastodon by Idempotency-Key, PagerDuty by dedup_key and
// action; Slack and Discord do not).
type fakeNetworks struct {
	mu       sync.Mutex
	hold     bool
	release  chan struct{}
	once     sync.Once
	got      map[string][]string // channel → what each request announced
	posts    map[string]int      // channel → posts actually created
	keys     map[string]string   // mastodon idempotency key → status id
	pdEvents map[string]bool     // pagerduty dedup_key/action
	tweets   map[string]bool     // x texts (duplicates are refused)
	bsky     map[string]bool     // bluesky record keys
	arrived  chan string
	srv      *httptest.Server
}

func newFakeNetworks(t testing.TB) *fakeNetworks { return newFakeNetworksOn(t, "127.0.0.1:0") }

// newFakeNetworksOn listens on addr (a test host's address).
func newFakeNetworksOn(t testing.TB, addr string) *fakeNetworks {
	f := &fakeNetworks{release: make(chan struct{}), got: map[string][]string{}, posts: map[string]int{},
		keys: map[string]string{}, pdEvents: map[string]bool{}, tweets: map[string]bool{}, bsky: map[string]bool{}, arrived: make(chan string, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/statuses", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		key := r.Header.Get("Idempotency-Key")
		f.record("mastodon", r.PostForm.Get("status"))
		if to := r.PostForm.Get("in_reply_to_id"); to != "" {
			f.record("mastodon replies", to) // which post each reply answers
		}
		f.mu.Lock()
		id, dup := f.keys[key]
		if !dup {
			f.posts["mastodon"]++
			id = fmt.Sprint(1000 + f.posts["mastodon"])
			f.keys[key] = id
		}
		f.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]string{"id": id})
	})
	mux.HandleFunc("POST /slack", func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		json.NewDecoder(r.Body).Decode(&v)
		f.record("slack", fmt.Sprint(v["text"]))
		f.count("slack")
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /discord", func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		json.NewDecoder(r.Body).Decode(&v)
		f.record("discord", fmt.Sprint(v["embeds"]))
		f.count("discord")
		json.NewEncoder(w).Encode(map[string]string{"id": "77"})
	})
	mux.HandleFunc("POST /v2/enqueue", func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		json.NewDecoder(r.Body).Decode(&v)
		k := fmt.Sprintf("%v/%v", v["dedup_key"], v["event_action"])
		f.record("pagerduty", k)
		f.mu.Lock()
		if !f.pdEvents[k] {
			f.pdEvents[k] = true
			f.posts["pagerduty"]++
		}
		f.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(map[string]string{"status": "success", "dedup_key": fmt.Sprint(v["dedup_key"])})
	})
	mux.HandleFunc("POST /2/tweets", func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		json.NewDecoder(r.Body).Decode(&v)
		text := fmt.Sprint(v["text"])
		f.record("x", text)
		f.mu.Lock()
		dup := f.tweets[text]
		f.tweets[text] = true
		if !dup {
			f.posts["x"]++
		}
		n := f.posts["x"]
		f.mu.Unlock()
		if dup {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"detail":"You are not allowed to create a Tweet with duplicate content.","status":403}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"data":{"id":"%d","text":"x"}}`, 1700+n)
	})
	session := `{"accessJwt":"acc","refreshJwt":"ref","did":"did:plc:fake"}`
	mux.HandleFunc("POST /xrpc/com.atproto.server.createSession", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, session) })
	mux.HandleFunc("POST /xrpc/com.atproto.server.refreshSession", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, session) })
	mux.HandleFunc("POST /xrpc/com.atproto.repo.putRecord", func(w http.ResponseWriter, r *http.Request) {
		var v struct {
			Rkey   string
			Record map[string]any
		}
		json.NewDecoder(r.Body).Decode(&v)
		f.record("bluesky", fmt.Sprint(v.Record["text"]))
		f.mu.Lock()
		if !f.bsky[v.Rkey] {
			f.bsky[v.Rkey] = true
			f.posts["bluesky"]++
		}
		f.mu.Unlock()
		fmt.Fprintf(w, `{"uri":"at://did:plc:fake/app.bsky.feed.post/%s","cid":"bafy%s"}`, v.Rkey, v.Rkey)
	})
	f.srv = httptest.NewUnstartedServer(f.holding(mux))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Listener.Close()
	f.srv.Listener = ln
	f.srv.Start()
	t.Cleanup(func() { f.unhold(); f.srv.Close() }) // a failed test must not leave replies held
	return f
}

// unhold answers every held request and stops holding.
func (f *fakeNetworks) unhold() {
	f.mu.Lock()
	f.hold = false
	f.mu.Unlock()
	f.once.Do(func() { close(f.release) })
}

// holding delays replies to announcements (after the request was read)
// while hold is set; session set-up is answered at once.
func (f *fakeNetworks) holding(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "Session") {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		f.mu.Lock()
		hold, release := f.hold, f.release
		f.mu.Unlock()
		if hold {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

func (f *fakeNetworks) record(ch, what string) {
	f.mu.Lock()
	f.got[ch] = append(f.got[ch], what)
	f.mu.Unlock()
	f.arrived <- ch
}

func (f *fakeNetworks) count(ch string) {
	f.mu.Lock()
	f.posts[ch]++
	f.mu.Unlock()
}

func (f *fakeNetworks) snapshot() (map[string]int, map[string][]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, g := map[string]int{}, map[string][]string{}
	for k, v := range f.posts {
		p[k] = v
	}
	for k, v := range f.got {
		g[k] = append([]string(nil), v...)
	}
	return p, g
}

// channelsYAML configures all four channels against the fakes.
func (f *fakeNetworks) channelsYAML() string {
	u, _ := url.Parse(f.srv.URL)
	base := "http://" + u.Host
	return fmt.Sprintf(`channels:
  - {name: mastodon, kind: mastodon, server: "%[1]s", token: t0ken, timeout: 30s}
  - {name: slack, kind: slack, url: "%[1]s/slack", timeout: 30s}
  - {name: discord, kind: discord, url: "%[1]s/discord", timeout: 30s}
  - {name: pagerduty, kind: pagerduty, url: "%[1]s", routing_key: R0UTE, timeout: 30s}
  - {name: x, kind: x, api_base: "%[1]s", consumer_key: ck, consumer_secret: cs, token: at, access_secret: as, timeout: 30s}
  - {name: bluesky, kind: bluesky, server: "%[1]s", handle: status.example.com, app_password: pw, timeout: 30s}
`, base)
}

// waitArrivals waits until each named channel has received a request.
func (f *fakeNetworks) waitArrivals(t testing.TB, d time.Duration, chans ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, c := range chans {
		want[c] = true
	}
	deadline := time.After(d)
	for len(want) > 0 {
		select {
		case c := <-f.arrived:
			delete(want, c)
		case <-deadline:
			t.Fatalf("no request reached %v in time", want)
		}
	}
}
