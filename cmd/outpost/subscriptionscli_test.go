package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startEmailOutpost runs the real binary with admin tokens and an email
// section whose SMTP server is an in-process inbox.
func startEmailOutpost(t *testing.T) (*outpostProc, string, *inbox) {
	t.Helper()
	box, port := serveInbox(t)
	tg := &target{addr: "127.0.0.1:0"}
	tg.start(t)
	t.Cleanup(tg.stop)
	t.Setenv("OUTPOST_TEST_OPS_TOKEN", opsToken)
	listen := closedAddr(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
site: {title: Acme Status, url: "https://status.example.com"}
listen: %s
components: [{id: shop, name: Shop}, {id: cart, name: Cart}]
checks:
  - {name: shop-home, component: shop, kind: http, target: "http://%s/", interval: 1s}
admin:
  tokens:
    - {name: oncall, token: "${OUTPOST_TEST_OPS_TOKEN}"}
email:
  from: status@example.com
  smtp: {host: 127.0.0.1, port: %d, tls: none}
%s`, listen, tg.addr, port, opsLine(t))), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := outpostBinary(t)
	return startOutpost(t, bin, cfg, listen), bin, box
}

var confirmLink = regexp.MustCompile(`/confirm/([A-Za-z0-9_-]{20,})`)

// subscribeConfirmed subscribes addr through the JSON API and follows the
// confirmation mail's link, as its owner would.
func subscribeConfirmed(t *testing.T, p *outpostProc, box *inbox, addr string) {
	t.Helper()
	if code, body := request(t, "POST", p.base+"/api/v1/subscriptions", "", `{"kind":"email","email":"`+addr+`","components":["cart"]}`); code != http.StatusAccepted {
		t.Fatalf("subscribe: %d %s", code, body)
	}
	var token string
	waitFor(t, 15*time.Second, "the confirmation mail", func() bool {
		box.mu.Lock()
		defer box.mu.Unlock()
		for _, m := range box.mails {
			m = strings.NewReplacer("=\r\n", "", "=\n", "").Replace(m) // quoted-printable's soft line breaks
			if strings.Contains(m, "To: <"+addr+">") || strings.Contains(m, "To: "+addr) {
				if found := confirmLink.FindStringSubmatch(m); found != nil {
					token = found[1]
				}
			}
		}
		return token != ""
	}, p)
	resp, err := http.Post(p.base+"/confirm/"+token, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm: %d", resp.StatusCode)
	}
}

// TestEmailSubscribersCLI: an operator finds an email subscriber with
// `outpost subscriptions list -kind email` (its address shown), exports
// what is held about it, disables it with a bounce's reason, re-enables
// it and erases it, against the real binary.
func TestEmailSubscribersCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	p, bin, box := startEmailOutpost(t)
	subscribeConfirmed(t, p, box, "Ann@Example.org")
	server := "-server=" + p.base
	out, err := cli(t, bin, "subscriptions", "list", server, "-kind", "email")
	row := regexp.MustCompile(`(?m)^(em_\w+)\s+active\s+email\s+Ann@Example\.org\s+cart\b`).FindStringSubmatch(out)
	if err != nil || row == nil {
		t.Fatalf("list -kind email: %v\n%s", err, out)
	}
	id := row[1]
	if out, err := cli(t, bin, "subscriptions", "list", server, "-kind", "webhook"); err != nil || strings.Contains(out, id) {
		t.Fatalf("list -kind webhook: %v\n%s", err, out)
	}
	if out, err := cli(t, bin, "subscriptions", "list", server, "-kind", "sms"); err == nil || !strings.Contains(out, "-kind must be email or webhook") {
		t.Fatalf("list -kind sms: %v\n%s", err, out)
	}
	file := filepath.Join(t.TempDir(), "export.json")
	if out, err := cli(t, bin, "subscriptions", "export", server, "-id", id, "-out", file); err != nil || !strings.Contains(out, file) {
		t.Fatalf("export: %v\n%s", err, out)
	}
	var exported struct {
		Subscription map[string]any `json:"subscription"`
		Deliveries   []any          `json:"deliveries"`
	}
	if b, err := os.ReadFile(file); err != nil || json.Unmarshal(b, &exported) != nil || exported.Subscription["address"] != "Ann@Example.org" ||
		exported.Deliveries == nil {
		t.Fatalf("the export file: %v %+v", err, exported)
	}
	if out, err := cli(t, bin, "subscriptions", "disable", server, "-id", id); err == nil || !strings.Contains(out, "-reason is required") {
		t.Fatalf("disable without a reason: %v\n%s", err, out)
	}
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"disable", "-reason", "bounced later: 550 5.1.1 user unknown"}, id + " disabled"},
		{[]string{"list", "-kind", "email"}, "bounced later: 550 5.1.1 user unknown"},
		{[]string{"enable"}, id + " active"},
		{[]string{"erase"}, id + " erased"},
	} {
		args := append([]string{"subscriptions", step.args[0], server, "-id", id}, step.args[1:]...)
		if out, err := cli(t, bin, args...); err != nil || !strings.Contains(out, step.want) {
			t.Fatalf("%v: %v\n%s", step.args, err, out)
		}
	}
	if out, err := cli(t, bin, "subscriptions", "export", server, "-id", id); err == nil || !strings.Contains(out, "no such subscription") {
		t.Fatalf("export after erasure: %v\n%s", err, out)
	}
	if out, err := cli(t, bin, "subscriptions", "list", server, "-kind", "email"); err != nil || strings.Contains(out, "Ann@Example.org") {
		t.Fatalf("list after erasure: %v\n%s", err, out)
	}
}
