package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/outpost-status/outpost/status/webhook"
)

var dumpContract = flag.Bool("contract.dump", false, "log every body the contract test sees")

// contract checks real responses against the OpenAPI document the server
// itself serves, and counts, per documented operation, the successes and
// errors it validated.
type contract struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	seen   map[string]*[2]int // "GET /api/v1/incidents": validated successes, errors
}

func loadContract(t *testing.T, base string) *contract {
	t.Helper()
	body := mustFetch(base, "/api/openapi.json")
	doc, err := openapi3.NewLoader().LoadFromData([]byte(body))
	if err != nil {
		t.Fatalf("load /api/openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	openapi3filter.RegisterBodyDecoder("image/png", openapi3filter.FileBodyDecoder) // screenshots
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	c := &contract{t: t, doc: doc, router: router, seen: map[string]*[2]int{}}
	for tmpl, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			c.seen[method+" "+tmpl] = &[2]int{}
		}
	}
	return c
}

// call sends a request, validates the request (when the server took it)
// and the response against the document, and counts it.
func (c *contract) call(method, base, path, token, body string) (int, string) {
	c.t.Helper()
	ctype := ""
	if body != "" {
		ctype = "application/json"
	}
	return c.callAs(method, base, path, token, ctype, body)
}

// callAs is call with the body sent as ctype ("": no Content-Type).
func (c *contract) callAs(method, base, path, token, ctype, body string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if *dumpContract {
		c.t.Logf("%s %s -> %d %s\n%s", method, path, resp.StatusCode, resp.Header.Get("Content-Type"), got)
	}
	// The document's server is "/": match on the path alone (the legacy
	// router does not take a host with a port for it).
	bare := req.Clone(context.Background())
	bare.URL.Scheme, bare.URL.Host, bare.Host = "", "", ""
	rt, params, err := c.router.FindRoute(bare)
	if err != nil {
		c.t.Errorf("%s %s is not in the document: %v", method, path, err)
		return resp.StatusCode, string(got)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: rt,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if resp.StatusCode < 300 && body != "" {
		req.Body = io.NopCloser(strings.NewReader(body))
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			c.t.Errorf("%s %s: the server took a request the document refuses: %v", method, path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true}}
	out.SetBodyBytes(got)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.t.Errorf("%s %s -> %d does not match the document: %v\n%.600s", method, path, resp.StatusCode, err, got)
	} else {
		n := c.seen[method+" "+rt.Path]
		n[min(resp.StatusCode/400, 1)]++
	}
	return resp.StatusCode, string(got)
}

// want fails unless code is one of the codes.
func (c *contract) want(what string, code int, body string, codes ...int) {
	c.t.Helper()
	if !slices.Contains(codes, code) {
		c.t.Fatalf("%s: %d %s", what, code, body)
	}
}

// webhook validates one delivered body against the document's webhooks.
func (c *contract) webhook(body []byte) string {
	c.t.Helper()
	var env struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		c.t.Fatalf("delivery not JSON: %s", body)
	}
	item := c.doc.Webhooks[env.Type]
	if item == nil || item.Post == nil || item.Post.RequestBody == nil {
		c.t.Errorf("webhook %s is not in the document", env.Type)
		return env.Type
	}
	schema := item.Post.RequestBody.Value.Content.Get("application/json").Schema.Value
	var v any
	_ = json.Unmarshal(body, &v)
	if err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors()); err != nil {
		c.t.Errorf("webhook %s does not match the document: %v\n%.600s", env.Type, err, body)
	}
	if *dumpContract {
		c.t.Logf("webhook %s\n%s", env.Type, body)
	}
	return env.Type
}

// The real binary's /api answers as its own /api/openapi.json says: every
// documented operation is called for at least one success and one error
// (a read surface's only error, 503 before the first render, is checked
// in status/web), requests the server takes are valid by the document,
// and every documented webhook is delivered and matches its schema. That
// every registered /api route is documented is checked in status/web.
func TestOpenAPIContract(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	t.Setenv("OUTPOST_TEST_OPS_TOKEN", opsToken)
	t.Setenv("OUTPOST_TEST_VIEWER_TOKEN", viewerToken)
	t.Setenv("OUTPOST_TEST_PEER_KEY", "peer-key-0123456789abcdef")
	rcv := newHookReceiver(t)
	s := startShop(t, "Contract", ", {id: cart, name: Cart}, {id: jobs, name: Jobs}", `admin:
  tokens:
    - {name: oncall, token: "${OUTPOST_TEST_OPS_TOKEN}"}
    - {name: viewer, token: "${OUTPOST_TEST_VIEWER_TOKEN}", read_only: true}
webhooks: {enabled: true, allow_http: true, allow_private_targets: true}
publish: {mode: manual}
peers: [{name: twin, url: "http://127.0.0.1:9", key: "${OUTPOST_TEST_PEER_KEY}"}]
browser: {exec_path: `+chromiumPath(t)+`}
`)
	p, tg := s.p, s.tg
	// A heartbeat check, added by a reload so its token is the CLI's.
	beat := addHeartbeat(t, s)
	c := loadContract(t, p.base)
	waitFor(t, 10*time.Second, "the shop up", func() bool { return strings.Contains(mustFetch(p.base, "/api/v1/status"), `"operational"`) }, p)

	// Public reads.
	c.call("GET", p.base, "/api/openapi.json", "", "")
	for _, path := range []string{"/api/v1/status", "/api/v1/status.json", "/api/v2/summary.json", "/api/v2/status.json",
		"/api/v2/components.json", "/api/v2/incidents.json", "/api/v2/incidents/unresolved.json",
		"/api/v2/scheduled-maintenances.json", "/api/v2/scheduled-maintenances/upcoming.json",
		"/api/v2/scheduled-maintenances/active.json"} {
		code, body := c.call("GET", p.base, path, "", "")
		c.want(path, code, body, 200)
	}
	// Operators' and peers' surfaces.
	code, body := c.call("GET", p.base, "/api/v1/health", opsToken, "")
	c.want("health", code, body, 200)
	c.call("GET", p.base, "/api/v1/health", "", "")
	c.call("GET", p.ops, "/api/v1/health", "", "")
	code, body = c.call("GET", p.base, "/api/v1/peer?from=twin", "", "")
	c.want("peer", code, body, 200)
	c.call("GET", p.base, "/api/v1/peer?from=stranger", "", "")
	// Heartbeats.
	for _, m := range []string{"GET", "POST"} {
		for _, tail := range []string{"", "/fail"} {
			code, body = c.call(m, p.base, "/api/v1/heartbeat/"+beat+tail, "", "")
			c.want("beat", code, body, 200)
			c.call(m, p.base, "/api/v1/heartbeat/not-a-token"+tail, "", "")
		}
	}

	// Subscriptions: a receiver subscribes and verifies by challenge.
	code, body = c.call("POST", p.base, "/api/v1/subscriptions", "", `{"url":"`+rcv.srv.URL+`/hook"}`)
	c.want("subscribe", code, body, 201)
	var sub webhook.Created
	if err := json.Unmarshal([]byte(body), &sub); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	rcv.secret = sub.Secret
	rcv.mu.Unlock()
	c.call("POST", p.base, "/api/v1/subscriptions", "", `{"url":"ftp://example.com/"}`)
	// A CORS "simple request" (text/plain) is refused, as a JSON 415.
	code, body = c.callAs("POST", p.base, "/api/v1/subscriptions", "", "text/plain", `{"url":"`+rcv.srv.URL+`/plain"}`)
	c.want("subscribe as text/plain", code, body, 415)
	subPath := "/api/v1/subscriptions/" + sub.ID
	waitFor(t, 15*time.Second, "the subscription verified", func() bool {
		_, b := request(t, "GET", p.base+subPath, sub.UnsubscribeToken, "")
		return strings.Contains(b, `"state":"active"`)
	}, p)
	for _, tc := range []struct{ method, path, token string }{
		{"GET", subPath, sub.UnsubscribeToken}, {"GET", subPath + "/deliveries", sub.UnsubscribeToken},
		{"GET", "/api/v1/subscriptions", opsToken}, {"POST", subPath + "/ping", sub.UnsubscribeToken},
		{"POST", subPath + "/pause", opsToken}, {"POST", subPath + "/enable", sub.UnsubscribeToken},
		{"POST", subPath + "/rotate", sub.UnsubscribeToken}, {"GET", subPath + "/export", viewerToken},
	} {
		code, body = c.call(tc.method, p.base, tc.path, tc.token, "")
		c.want(tc.method+" "+tc.path, code, body, 200, 202)
		c.call(tc.method, p.base, tc.path, "", "") // no token
	}

	// An operator disables it with a reason (a bounce fed back), and enables it again.
	code, body = c.call("POST", p.base, subPath+"/disable", opsToken, `{"reason":"bounced: 550 5.1.1 user unknown"}`)
	c.want("disable", code, body, 200)
	c.call("POST", p.base, subPath+"/disable", opsToken, `{}`)
	code, body = c.call("POST", p.base, subPath+"/enable", opsToken, "")
	c.want("enable after disable", code, body, 200)

	// The site key that signs subscriber links.
	code, body = c.call("POST", p.base, "/api/v1/keys/rotate", opsToken, `{"grace":"1h"}`)
	c.want("rotate the site key", code, body, 200)
	c.call("POST", p.base, "/api/v1/keys/rotate", opsToken, `{"grace":"forever"}`)

	// The admin API: incidents.
	api := "/api/v1"
	code, body = c.call("POST", p.base, api+"/incidents", opsToken, `{"name":"Checkout is slow","message":"Some payments take longer.","impact":"minor","components":{"cart":"degraded_performance"}}`)
	c.want("create incident", code, body, 201)
	var reply struct {
		Incident struct {
			ID      string `json:"id"`
			Updates []struct {
				ID string `json:"id"`
			} `json:"updates"`
		} `json:"incident"`
	}
	json.Unmarshal([]byte(body), &reply)
	inc := &reply.Incident
	c.call("POST", p.base, api+"/incidents", opsToken, `{"name":""}`)
	code, body = c.call("GET", p.base, api+"/incidents", viewerToken, "")
	c.want("list incidents", code, body, 200)
	c.call("GET", p.base, api+"/incidents", "", "")
	code, body = c.call("POST", p.base, api+"/incidents/"+inc.ID+"/updates", opsToken, `{"message":"A slow provider.","status":"identified"}`)
	c.want("update", code, body, 200, 201)
	json.Unmarshal([]byte(body), &reply)
	c.call("POST", p.base, api+"/incidents/inc-999999/updates", opsToken, `{"message":"x"}`)
	code, body = c.call("PATCH", p.base, api+"/incidents/"+inc.ID, opsToken, `{"name":"Checkout is slow for some"}`)
	c.want("patch incident", code, body, 200)
	c.call("PATCH", p.base, api+"/incidents/"+inc.ID, opsToken, `{"impact":"huge"}`)
	if len(inc.Updates) < 2 {
		t.Fatalf("incident without two updates: %+v", inc)
	}
	first, last := inc.Updates[0].ID, inc.Updates[len(inc.Updates)-1].ID
	code, body = c.call("PATCH", p.base, api+"/incidents/"+inc.ID+"/updates/"+first, opsToken, `{"message":"Corrected."}`)
	c.want("edit update", code, body, 200)
	c.call("PATCH", p.base, api+"/incidents/"+inc.ID+"/updates/nope", opsToken, `{"message":"Corrected."}`)
	c.call("POST", p.base, api+"/incidents/"+inc.ID+"/postmortem", opsToken, `{"body":"Too early."}`) // not resolved: 409
	code, body = c.call("DELETE", p.base, api+"/incidents/"+inc.ID+"/updates/"+last, opsToken, "")
	c.want("delete update", code, body, 200)
	c.call("DELETE", p.base, api+"/incidents/"+inc.ID+"/updates/"+last, opsToken, "")
	code, body = c.call("POST", p.base, api+"/incidents/"+inc.ID+"/updates", opsToken, `{"message":"Fixed.","status":"resolved","components":{"cart":"operational"}}`)
	c.want("resolve", code, body, 200, 201)
	code, body = c.call("POST", p.base, api+"/incidents/"+inc.ID+"/postmortem", opsToken, `{"body":"## What happened\nA provider slowed down."}`)
	c.want("postmortem", code, body, 200)

	// Maintenance: one in the future (scheduled, then cancelled), one that
	// starts now and ends in two seconds (started, completed).
	now := time.Now().UTC()
	later := fmt.Sprintf(`{"name":"Database upgrade","components":["cart"],"start":%q,"end":%q}`,
		now.Add(time.Hour).Format(time.RFC3339), now.Add(2*time.Hour).Format(time.RFC3339))
	code, body = c.call("POST", p.base, api+"/maintenances", opsToken, later)
	c.want("schedule", code, body, 201)
	json.Unmarshal([]byte(body), &reply)
	mnt := reply.Incident
	c.call("POST", p.base, api+"/maintenances", opsToken, `{"name":"x","components":["cart"],"start":"soon"}`)
	code, body = c.call("PATCH", p.base, api+"/maintenances/"+mnt.ID, opsToken, `{"message":"Writes pause for a minute."}`)
	c.want("re-time", code, body, 200)
	c.call("PATCH", p.base, api+"/maintenances/mnt-nope", opsToken, `{"message":"x"}`)
	code, body = c.call("DELETE", p.base, api+"/maintenances/"+mnt.ID, opsToken, "")
	c.want("cancel maintenance", code, body, 200)
	c.call("DELETE", p.base, api+"/maintenances/mnt-nope", opsToken, "")
	now = time.Now().UTC()
	short := fmt.Sprintf(`{"name":"Restart","components":["jobs"],"start":%q,"end":%q}`,
		now.Add(time.Second).Format(time.RFC3339), now.Add(3*time.Second).Format(time.RFC3339))
	code, body = c.call("POST", p.base, api+"/maintenances", opsToken, short)
	c.want("short window", code, body, 201)
	code, body = c.call("GET", p.base, api+"/maintenances", viewerToken, "")
	c.want("maintenances", code, body, 200)
	c.call("GET", p.base, api+"/maintenances", "", "")

	// An outage: component.status_changed and an automatic incident.
	tg.stop()
	waitFor(t, 10*time.Second, "the outage", func() bool { return strings.Contains(mustFetch(p.base, "/api/v2/incidents/unresolved.json"), "Shop") }, p)
	tg.start(t)
	for _, path := range []string{"/api/v1/status", "/api/v2/summary.json", "/api/v2/incidents.json", "/api/v2/scheduled-maintenances.json"} {
		c.call("GET", p.base, path, "", "") // with incidents and maintenance in them
	}

	// Every announcement is held (publish.mode: manual): cancel one, then
	// release the rest until every kind of event has been delivered.
	var held struct {
		Announcements []struct {
			Seq uint64 `json:"seq"`
		} `json:"announcements"`
	}
	cancelled := false
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		code, body = c.call("GET", p.base, api+"/announcements", viewerToken, "")
		c.want("announcements", code, body, 200)
		json.Unmarshal([]byte(body), &held)
		for _, a := range held.Announcements {
			verb := "release"
			if !cancelled {
				verb, cancelled = "cancel", true
			}
			code, body = c.call("POST", p.base, fmt.Sprintf("%s/announcements/%d/%s", api, a.Seq, verb), opsToken, "")
			c.want(verb, code, body, 200)
		}
		if delivered(rcv) >= len(c.doc.Webhooks) {
			break
		}
		time.Sleep(200 * time.Millisecond) // events still to come (the short window's end); bounded by the deadline
	}
	c.call("GET", p.base, api+"/announcements", "", "")
	c.call("POST", p.base, api+"/announcements/999999/release", opsToken, "")
	c.call("POST", p.base, api+"/announcements/999999/cancel", opsToken, "")
	code, body = c.call("POST", p.base, api+"/announcements/-1/release", opsToken, "")
	c.want("a bad seq", code, body, 400)
	code, body = c.callAs("PATCH", p.base, api+"/incidents/"+inc.ID, opsToken, "application/x-www-form-urlencoded", "name=x")
	c.want("a form body to the admin API", code, body, 415)
	// Screenshots of the failing browser check.
	waitFor(t, 20*time.Second, "a screenshot of the failing browser check", func() bool {
		code, _ := request(t, "GET", p.base+api+"/checks/page-shot/screenshots", viewerToken, "")
		return code == 200
	}, p)
	code, body = c.call("GET", p.base, api+"/checks/page-shot/screenshots", viewerToken, "")
	c.want("screenshots", code, body, 200)
	var shots struct {
		Screenshots []struct{ URL string } `json:"screenshots"`
	}
	json.Unmarshal([]byte(body), &shots)
	code, body = c.call("GET", p.base, shots.Screenshots[0].URL, viewerToken, "")
	c.want("a screenshot", code, body[:min(len(body), 8)], 200)
	if !strings.HasPrefix(body, "\x89PNG") {
		t.Errorf("the screenshot is not a PNG: %.8q", body)
	}
	c.call("GET", p.base, api+"/checks/no-such-check/screenshots", viewerToken, "")
	c.call("GET", p.base, api+"/checks/page-shot/screenshots/1.png", viewerToken, "")
	for _, path := range []string{api + "/deliveries", api + "/audit"} {
		code, body = c.call("GET", p.base, path, viewerToken, "")
		c.want(path, code, body, 200)
		c.call("GET", p.base, path, "", "")
	}
	code, body = c.call("DELETE", p.base, subPath, sub.UnsubscribeToken, "")
	c.want("unsubscribe", code, body, 204)
	c.call("DELETE", p.base, subPath, opsToken, "")

	// Every delivered body matches its webhook's schema, and every
	// documented webhook was delivered.
	rcv.mu.Lock()
	bodies := rcv.bodies
	rcv.mu.Unlock()
	got := map[string]bool{}
	for _, b := range bodies {
		got[c.webhook(b)] = true
	}
	for name := range c.doc.Webhooks {
		if !got[name] {
			t.Errorf("webhook %s was never delivered", name)
		}
	}
	for op, n := range c.seen {
		if n[0] == 0 {
			t.Errorf("%s: no success validated", op)
		}
		if n[1] == 0 && !onlyStartingUp(c.doc, op) && op != "GET /api/openapi.json" {
			t.Errorf("%s: no error validated", op)
		}
	}
}

// chromiumPath is Debian's Chromium, for browser checks; without one the
// test skips, except under CI, which installs it.
func chromiumPath(t *testing.T) string {
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium missing in CI: .ci/run must install it")
		}
		t.Skip("no chromium (apt-get install chromium)")
	}
	return path
}

// onlyStartingUp reports an operation whose one documented error is 503
// before the first render: status/web checks it on a server with none.
func onlyStartingUp(doc *openapi3.T, op string) bool {
	method, path, _ := strings.Cut(op, " ")
	o := doc.Paths.Value(path).GetOperation(method)
	for code := range o.Responses.Map() {
		if code >= "400" && code != "503" {
			return false
		}
	}
	return true
}

// delivered counts the kinds of webhook the receiver got.
func delivered(r *hookReceiver) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	kinds := map[string]bool{}
	for _, k := range r.arrived {
		kind, _, _ := strings.Cut(k, " ")
		kinds[kind] = true
	}
	return len(kinds)
}

// addHeartbeat adds a heartbeat check to the shop's config, reloads, and
// returns its token.
func addHeartbeat(t *testing.T, s shopOutpost) string {
	t.Helper()
	cfg, err := os.ReadFile(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	// And a browser check that fails (a selector that never shows), as a
	// warning, for the screenshots it keeps.
	cfg = bytes.Replace(cfg, []byte("checks:\n"), []byte("checks:\n  - {name: nightly, component: jobs, kind: heartbeat, period: 1h, grace: 1h, interval: 1s}\n"+
		"  - {name: page-shot, component: jobs, kind: browser, affects: warning, interval: 2s, timeout: 2s, steps: [{goto: \"http://"+s.tg.addr+"/\"}, {wait_for: \"#never\", timeout: 300ms}]}\n"), 1)
	if err := os.WriteFile(s.cfg, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	// The running server issues the token once it has reloaded the check.
	token := ""
	waitFor(t, 10*time.Second, "a token for the reloaded heartbeat check", func() bool {
		out, err := exec.Command(s.bin, "heartbeat", "token", "-config", s.cfg, "-check", "nightly").CombinedOutput()
		words := strings.Fields(string(out))
		for i, w := range words {
			if w == "kept):" && i+1 < len(words) && err == nil {
				token = words[i+1]
			}
		}
		return token != ""
	}, s.p)
	return token
}
