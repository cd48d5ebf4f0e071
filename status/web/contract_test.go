package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/webhook"
)

// engineAdmin is the admin API on a real engine whose steps commit to st,
// as the monitor's Do does (one step per call, answered after the commit).
func engineAdmin(t *testing.T, st *store.Store, tokens []AdminToken) *Admin {
	t.Helper()
	e := status.NewEngine(&status.Model{Location: time.UTC, Components: []status.ComponentDef{{ID: "api", Name: "API"},
		{ID: "web", Name: "Website"}, {ID: "db", Name: "Database"}}}, nil)
	var mu sync.Mutex
	return &Admin{Tokens: tokens, Do: func(_ context.Context, cmds ...status.Command) ([]status.Reply, error) {
		mu.Lock()
		defer mu.Unlock()
		now := t0.Add(time.Minute)
		ch := e.Apply(status.Batch{Now: now, Commands: cmds})
		if _, err := st.Apply(store.Entry{At: now, Step: store.NewStep(ch, e.State(), nil)}); err != nil {
			return nil, err
		}
		return ch.Replies, nil
	}}
}

// badValues are what a route's path parameters are given (subID: a real
// subscription, for its owner's token).
func badValues(subID string) map[string][]string {
	return map[string][]string{
		"seq":    {"-1", "abc", "0", "99999999999999999999999", "999999"},
		"id":     {"nope", "inc-999999", "mnt-999999", "sub_0000", strings.Repeat("x", 300), subID},
		"update": {"nope", "upd-1"},
		"token":  {"nope"},
		"name":   {"nope", "api-1"},
		"file":   {"nope", "1.png", "-1.png"},
	}
}

// badBodies are what a route that takes a body is sent, each with each
// of the content types.
var badBodies = []string{"", "not json", `{"kind":"email","email":"a@example.org"}`, `{"kind":"email","email":"a@localhost"}`, `{"reason":"bounced"}`, "{}", "[]", "null", `{"x":1}`, `{"name":"a","NAME":"b"}`,
	`{"name":"a","name":"b","message":"x"}`, `{"message":"x"}`, `{"name":"A","message":"x"}`, `{"body":"x"}`,
	`{"url":"ftp://x"}`, `{"name":"x","components":["nope"],"start":"soon","end":42}`, `{"message":42}`,
	`{"` + strings.Repeat("a", 70<<10) + `":1}`}

var badTypes = []string{"application/json", "text/plain", "", "application/x-www-form-urlencoded", "application/json; charset=latin1"}

// Every status a route answers is declared in the contract: the test walks
// every operation in the document and drives it with bad input (bad ids,
// bad bodies, wrong content types, no token, wrong, read-only and owner
// tokens, one address or many) on a server with every surface on and a
// real engine behind the admin API, then checks each answer's status is
// one the operation declares.
func TestOpenAPIDeclaresEveryStatus(t *testing.T) {
	snap, st := fixture(t)
	wh := webhook.New(webhook.Options{Store: st, Logger: slog.New(slog.DiscardHandler), PerClient: 1000})
	s, err := New(Options{Site: config.Site{Title: "Acme Status", URL: "https://status.acme.test", TimeZone: "UTC", Location: time.UTC},
		SiteID: "acme", Store: st, Logger: slog.New(slog.DiscardHandler), Webhooks: wh, Email: &fakeSubscriber{},
		Admin:      engineAdmin(t, st, []AdminToken{{Name: "ops", Hash: store.HashToken(writeToken)}, {Name: "viewer", Hash: store.HashToken(readToken), ReadOnly: true}}),
		Heartbeats: probes.NewBeats(time.Now),
		Peer:       http.NotFoundHandler(),
		Details:    func() any { return map[string]any{} },
		Metrics:    http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	doc := contractOf(t, h)
	sub, err := wh.Subscribe(webhook.Request{URL: "https://hooks.example.com/a"}, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	values := badValues(sub.ID)
	values["id"] = append(values["id"], seedSubscribers(t, st)) // an email subscriber
	tokens := []string{"", "wrong-token", readToken, writeToken, sub.UnsubscribeToken}
	n, addr := 0, 0
	do := func(method, path, token, ctype, body string, declared map[string]bool, oneAddr bool) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		addr++
		req.RemoteAddr = fmt.Sprintf("198.18.%d.%d:40000", addr/250%250, addr%250+1)
		if oneAddr {
			req.RemoteAddr = "203.0.113.99:40000"
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		n++
		if !declared[fmt.Sprint(rec.Code)] {
			t.Errorf("%s %.80s (token %.6q, %q, body %.40q) -> %d, which the document does not declare: %.200s",
				method, path, token, ctype, body, rec.Code, rec.Body)
		}
		_, _ = io.Copy(io.Discard, rec.Body)
	}
	for tmpl, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			declared := map[string]bool{}
			for code := range op.Responses.Map() {
				declared[code] = true
			}
			for _, path := range samplePaths(tmpl, values) {
				for _, oneAddr := range []bool{false, true} {
					for _, tok := range tokens {
						do(method, path, tok, "application/json", "{}", declared, oneAddr)
					}
				}
				if !takesBody(op, method) {
					continue
				}
				for _, body := range badBodies {
					for _, ct := range badTypes {
						do(method, path, writeToken, ct, body, declared, false)
					}
				}
			}
		}
	}
	if n < 2000 {
		t.Fatalf("only %d requests sent", n)
	}
	t.Logf("%d requests", n)
}

var pathParam = regexp.MustCompile(`\{([a-z]+)\}`)

// samplePaths fills each path parameter with each of its bad values (the
// first parameter varies; the others take their first value).
func samplePaths(tmpl string, values map[string][]string) []string {
	names := pathParam.FindAllStringSubmatch(tmpl, -1)
	if len(names) == 0 {
		q := map[string]string{"/api/v1/peer": "?from=stranger", "/api/v1/subscriptions/{id}/deliveries": "?limit=0"}[tmpl]
		return []string{tmpl + q}
	}
	var out []string
	for _, v := range values[names[0][1]] {
		p := strings.Replace(tmpl, names[0][0], v, 1)
		for _, rest := range names[1:] {
			p = strings.Replace(p, rest[0], values[rest[1]][0], 1)
		}
		out = append(out, p, p+"?limit=abc")
	}
	return out
}

func takesBody(op *openapi3.Operation, method string) bool {
	return op.RequestBody != nil || slices.Contains([]string{"POST", "PATCH", "PUT"}, method)
}

// A bad announcement seq is a 400 that says what a seq is: "-1" is a
// number, so "must be a number" would mislead.
func TestBadAnnouncementSeqIsExplained(t *testing.T) {
	s, _ := subscriptionServer(t, 5)
	for _, seq := range []string{"-1", "abc", "1.5", "99999999999999999999999"} {
		for _, verb := range []string{"release", "cancel"} {
			code, out := call(t, s.Handler(), "POST", "/api/v1/announcements/"+seq+"/"+verb, writeToken, "", "203.0.113.50")
			field, msg := errorField(out)
			if code != http.StatusBadRequest || field != "seq" || !strings.Contains(msg, "positive whole number") {
				t.Errorf("%s %s: %d %q %q", verb, seq, code, field, msg)
			}
		}
	}
}
