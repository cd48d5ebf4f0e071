package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	opsToken    = "ops-token-0123456789abcdef"
	viewerToken = "viewer-token-0123456789abcd"
)

// request sends an admin API request and returns the status and body.
func request(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// cli runs the real binary's CLI against a server.
func cli(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "OUTPOST_ADMIN_TOKEN="+opsToken)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func startAdminOutpost(t *testing.T, extra string) (*outpostProc, string, *target) {
	t.Setenv("OUTPOST_TEST_OPS_TOKEN", opsToken)
	t.Setenv("OUTPOST_TEST_VIEWER_TOKEN", viewerToken)
	s := startShop(t, "Admin Status", ", {id: cart, name: Cart}", `admin:
  tokens:
    - {name: oncall, token: "${OUTPOST_TEST_OPS_TOKEN}"}
    - {name: viewer, token: "${OUTPOST_TEST_VIEWER_TOKEN}", read_only: true}
`+extra)
	return s.p, s.bin, s.tg
}

func TestAdminAPIAndCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	nets := newFakeNetworks(t)
	p, bin, tg := startAdminOutpost(t, "channels:\n  - {name: mastodon, kind: mastodon, server: \""+nets.srv.URL+"\", token: t0ken}\n")
	api := p.base + "/api/v1"
	waitFor(t, 10*time.Second, "the shop up", func() bool { return strings.Contains(mustFetch(p.base, "/api/v1/status"), `"operational"`) }, p)

	// Authentication and authorisation.
	if code, body := request(t, "GET", api+"/incidents", "", ""); code != 401 || !strings.Contains(body, `"message":"a valid bearer token is required"`) {
		t.Errorf("no token: %d %s", code, body)
	}
	if code, _ := request(t, "GET", api+"/incidents", viewerToken, ""); code != 200 {
		t.Errorf("read-only token reading: %d", code)
	}
	if code, body := request(t, "POST", api+"/incidents", viewerToken, `{"name":"x","message":"y"}`); code != 403 || !strings.Contains(body, "read-only") {
		t.Errorf("read-only token writing: %d %s", code, body)
	}
	// Validation names the field.
	for _, tc := range []struct{ body, field string }{
		{`{"name":"Payments slow","message":"m","status":"exploded"}`, "status"},
		{`{"name":"Payments slow","message":"m","colour":"red"}`, "colour"},
		{`{"name":"Payments slow","message":"m","components":{"nope":"major_outage"}}`, "components.nope"},
		{`{"message":"m"}`, "name"},
		{`{"name":"Payments slow","message":"m","components":{"shop":"on_fire"}}`, "components.shop"},
	} {
		code, body := request(t, "POST", api+"/incidents", opsToken, tc.body)
		if code != 400 || !strings.Contains(body, `"field":"`+tc.field+`"`) {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.body, code, body, tc.field)
		}
	}

	// The on-call CLI drives an incident through its lifecycle.
	out, err := cli(t, bin, "incident", "create", "-server", p.base, "-name", "Checkout is slow", "-impact", "minor",
		"-message", "Some payments take longer than usual.", "-components", "cart=degraded_performance")
	if err != nil {
		t.Fatalf("incident create: %v\n%s", err, out)
	}
	id := strings.Fields(out)[0]
	waitFor(t, 5*time.Second, "the incident on the page and in /api/v2", func() bool {
		page := mustFetch(p.base, "/")
		v2 := mustFetch(p.base, "/api/v2/incidents/unresolved.json")
		return strings.Contains(page, "Checkout is slow") && strings.Contains(page, "Some payments take longer than usual.") &&
			strings.Contains(v2, `"id":"`+id+`"`) && strings.Contains(mustFetch(p.base, "/api/v2/components.json"), `"degraded_performance"`)
	}, p)
	if out, err := cli(t, bin, "incident", "update", "-server", p.base, "-id", id, "-status", "identified", "-message", "A slow payment provider; failing over."); err != nil || !strings.Contains(out, "identified") {
		t.Fatalf("incident update: %v %s", err, out)
	}
	if out, err := cli(t, bin, "incident", "resolve", "-server", p.base, "-id", id, "-components", "cart=operational"); err != nil || !strings.Contains(out, "resolved") {
		t.Fatalf("incident resolve: %v %s", err, out)
	}
	waitFor(t, 5*time.Second, "the resolution everywhere", func() bool {
		inc := mustFetch(p.base, "/incidents/"+id)
		return strings.Contains(inc, "A slow payment provider; failing over.") && strings.Contains(inc, "This incident has been resolved.") &&
			strings.Contains(mustFetch(p.base, "/api/v2/incidents/unresolved.json"), `"incidents":[]`) &&
			!strings.Contains(mustFetch(p.base, "/api/v2/components.json"), `"degraded_performance"`)
	}, p)
	if out, err := cli(t, bin, "incident", "list", "-server", p.base); err != nil || !strings.Contains(out, id) || !strings.Contains(out, "resolved") {
		t.Errorf("incident list: %v\n%s", err, out)
	}

	// Correct an update, delete one, publish a postmortem (Markdown).
	var got struct {
		Incidents []struct {
			ID      string
			Updates []struct{ ID, Body string } `json:"updates"`
		} `json:"incidents"`
	}
	_, body := request(t, "GET", api+"/incidents", viewerToken, "")
	json.Unmarshal([]byte(body), &got)
	if len(got.Incidents) == 0 || len(got.Incidents[0].Updates) != 3 {
		t.Fatalf("incident list: %s", body)
	}
	ups := got.Incidents[0].Updates
	if code, body := request(t, "PATCH", api+"/incidents/"+id+"/updates/"+ups[1].ID, opsToken, `{"message":"A slow payment provider (Acme Pay); failing over."}`); code != 200 {
		t.Fatalf("edit update: %d %s", code, body)
	}
	if code, body := request(t, "DELETE", api+"/incidents/"+id+"/updates/"+ups[0].ID, opsToken, ""); code != 200 {
		t.Fatalf("delete update: %d %s", code, body)
	}
	if code, body := request(t, "POST", api+"/incidents/"+id+"/postmortem", opsToken, `{"body":"## Root cause\n\nA **slow** provider. <script>alert(1)</script>"}`); code != 200 {
		t.Fatalf("postmortem: %d %s", code, body)
	}
	waitFor(t, 5*time.Second, "the corrected timeline and the postmortem", func() bool {
		page := mustFetch(p.base, "/incidents/"+id)
		return strings.Contains(page, "(Acme Pay)") && !strings.Contains(page, "Some payments take longer than usual.") &&
			strings.Contains(page, "<h2>Root cause</h2>") && strings.Contains(page, "<strong>slow</strong>") && !strings.Contains(page, "<script>alert") &&
			strings.Contains(mustFetch(p.base, "/api/v2/incidents.json"), `"status":"postmortem"`)
	}, p)
	if code, body := request(t, "GET", api+"/deliveries", viewerToken, ""); code != 200 || !strings.Contains(body, `"type":"incident.created"`) {
		t.Errorf("delivery log: %d %s", code, body)
	}
	if out, err := cli(t, bin, "incident", "update", "-server", p.base, "-id", "inc-999", "-message", "x"); err == nil || !strings.Contains(out, "no open incident inc-999") {
		t.Errorf("updating a missing incident: %v %s", err, out)
	}

	// Maintenance: announced, suppresses the automatic incident, ends.
	start := time.Now().Add(2 * time.Second).UTC().Truncate(time.Second)
	out, err = cli(t, bin, "maintenance", "add", "-server", p.base, "-name", "Shop upgrade", "-components", "shop",
		"-start", start.Format(time.RFC3339), "-duration", "4s", "-message", "The shop restarts.")
	if err != nil {
		t.Fatalf("maintenance add: %v %s", err, out)
	}
	mid := strings.Fields(out)[0]
	if code, body := request(t, "PATCH", api+"/maintenances/"+mid, opsToken, `{"name":"Shop upgrade v2","message":"Now with a faster restart."}`); code != 200 {
		t.Fatalf("patch maintenance: %d %s", code, body)
	}
	if v2 := mustFetch(p.base, "/api/v2/scheduled-maintenances/upcoming.json"); !strings.Contains(v2, `"id":"`+mid+`"`) || !strings.Contains(v2, "Shop upgrade v2") {
		t.Errorf("upcoming maintenance missing or not renamed: %s", v2)
	}
	waitFor(t, 10*time.Second, "the window to start", func() bool {
		return strings.Contains(mustFetch(p.base, "/api/v2/components.json"), `"under_maintenance"`)
	}, p)
	downRuns := func() int {
		for _, l := range strings.Split(mustFetch(p.ops, "/metrics"), "\n") {
			if v, ok := strings.CutPrefix(l, `outpost_probe_runs_total{check="shop-home",outcome="down"} `); ok {
				n, _ := strconv.Atoi(v)
				return n
			}
		}
		return 0
	}
	before := downRuns()
	// A failure during the (4 s) window. Runs are counted as they finish
	// and steps follow within 50 ms, so by the second failed run (a second
	// later) the first has been through the engine.
	tg.stop()
	waitFor(t, 10*time.Second, "two failed runs during the window", func() bool { return downRuns() >= before+2 }, p)
	if v := mustFetch(p.base, "/api/v2/incidents/unresolved.json"); !strings.Contains(v, `"incidents":[]`) {
		t.Errorf("a failure during maintenance opened an incident: %s", v)
	}
	tg.start(t)
	waitFor(t, 10*time.Second, "the window to end", func() bool {
		return strings.Contains(mustFetch(p.base, "/incidents/"+mid), "The scheduled maintenance has been completed.")
	}, p)
	if out, err := cli(t, bin, "maintenance", "list", "-server", p.base); err != nil || !strings.Contains(out, mid) || !strings.Contains(out, "completed") {
		t.Errorf("maintenance list: %v\n%s", err, out)
	}
	// The window was announced through the channel: scheduled, changed,
	// started, completed.
	waitFor(t, 10*time.Second, "the maintenance announcements", func() bool {
		_, got := nets.snapshot()
		all := strings.Join(got["mastodon"], "\n")
		return strings.Contains(all, "Shop upgrade (scheduled): The shop restarts.") && strings.Contains(all, "Shop upgrade v2 (scheduled): Now with a faster restart.") &&
			strings.Contains(all, "Shop upgrade v2 (in progress)") && strings.Contains(all, "Shop upgrade v2 (completed)")
	}, p)

	// Every change is in the audit log with who made it.
	_, body = request(t, "GET", api+"/audit", viewerToken, "")
	var audit struct {
		Audit []struct{ Actor, Action, Target string } `json:"audit"`
	}
	json.Unmarshal([]byte(body), &audit)
	actions := map[string]int{}
	for _, a := range audit.Audit {
		if a.Actor != "oncall" {
			t.Errorf("audit entry by %q", a.Actor)
		}
		actions[a.Action]++
	}
	if actions["create_incident"] != 1 || actions["update_incident"] != 2 || actions["schedule_maintenance"] != 1 {
		t.Errorf("audit actions %v", actions)
	}

	// Failed attempts are rate limited per address.
	codes := []int{}
	for range 7 {
		code, _ := request(t, "GET", api+"/incidents", "wrong-token-xxxxxxxxxxxx", "")
		codes = append(codes, code)
	}
	if codes[0] != 401 || codes[len(codes)-1] != 429 {
		t.Errorf("failed attempts: %v, want 401s then 429", codes)
	}
}

// With publish.mode: manual, public announcements wait for a person.
func TestHeldAnnouncements(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	nets := newFakeNetworks(t)
	p, _, tg := startAdminOutpost(t, "publish: {mode: manual}\nchannels:\n  - {name: mastodon, kind: mastodon, server: \""+nets.srv.URL+"\", token: t0ken}\n")
	api := p.base + "/api/v1"
	waitFor(t, 10*time.Second, "the shop up", func() bool { return strings.Contains(mustFetch(p.base, "/api/v1/status"), `"operational"`) }, p)
	tg.stop()
	var held struct {
		Announcements []struct {
			Seq   uint64                `json:"seq"`
			Event struct{ Type string } `json:"event"`
		} `json:"announcements"`
	}
	waitFor(t, 10*time.Second, "a held announcement", func() bool {
		_, body := request(t, "GET", api+"/announcements", opsToken, "")
		json.Unmarshal([]byte(body), &held)
		return len(held.Announcements) > 0
	}, p)
	// After two more passes of the dispatcher over the outbox, a held row
	// it would have sent would be there.
	dispatcherPasses(t, p, 2)
	if posts, _ := nets.snapshot(); posts["mastodon"] != 0 {
		t.Fatal("a held announcement was posted")
	}
	seq := held.Announcements[0].Seq
	if code, body := request(t, "POST", fmt.Sprintf("%s/announcements/%d/release", api, seq), viewerToken, ""); code != 403 {
		t.Errorf("read-only release: %d %s", code, body)
	}
	if code, body := request(t, "POST", fmt.Sprintf("%s/announcements/%d/release", api, seq), opsToken, ""); code != 200 {
		t.Fatalf("release: %d %s", code, body)
	}
	nets.waitArrivals(t, 10*time.Second, "mastodon")
	tg.start(t) // the resolution is held too; cancel it
	waitFor(t, 10*time.Second, "the held resolution", func() bool {
		_, body := request(t, "GET", api+"/announcements", opsToken, "")
		return strings.Contains(body, "incident.resolved")
	}, p)
	_, body := request(t, "GET", api+"/announcements", opsToken, "")
	json.Unmarshal([]byte(body), &held)
	last := held.Announcements[len(held.Announcements)-1].Seq
	if code, body := request(t, "POST", fmt.Sprintf("%s/announcements/%d/cancel", api, last), opsToken, ""); code != 200 {
		t.Fatalf("cancel: %d %s", code, body)
	}
	if code, _ := request(t, "POST", fmt.Sprintf("%s/announcements/%d/cancel", api, last), opsToken, ""); code != 409 {
		t.Errorf("cancelling twice: %d", code)
	}
	dispatcherPasses(t, p, 2) // as above
	if posts, _ := nets.snapshot(); posts["mastodon"] != 1 {
		t.Errorf("%d posts, want the released one only", posts["mastodon"])
	}
}

// dispatcherPasses waits until every channel's worker of the Outpost at p
// has made n more passes over the outbox (/api/v1/health on the operators'
// listener says how many), so "nothing was sent" follows real passes.
func dispatcherPasses(t *testing.T, p *outpostProc, n uint64) {
	t.Helper()
	passes := func() uint64 {
		var h struct {
			Passes uint64 `json:"dispatcher_passes"`
		}
		body, err := fetch(p.ops, "/api/v1/health")
		if err != nil || json.Unmarshal([]byte(body), &h) != nil {
			return 0
		}
		return h.Passes
	}
	want := passes() + n
	waitFor(t, 10*time.Second, fmt.Sprintf("%d more dispatcher passes", n), func() bool { return passes() >= want }, p)
}
