package node

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/config"
)

// An incident's mails to one subscriber are one conversation, through the
// whole pipeline (engine, store, the email loop, the composer, SMTP): the
// update's and the resolution's mails answer the incident's first mail
// (In-Reply-To and References are its Message-ID), and every mail names
// the incident's components by their public names, also an update that
// changes no component.
func TestIncidentMailsThreadThroughThePipeline(t *testing.T) {
	const token = "thread-test-admin-token-0123456789"
	t.Setenv("OUTPOST_TEST_THREAD_TOKEN", token)
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer target.Close()
	box, smtpCfg := serveMailbox(t)
	dir := t.TempDir()
	path, data := filepath.Join(dir, "config.yaml"), filepath.Join(dir, "outpost.db")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`
site: {title: Acme Status, url: "https://status.example.com"}
listen: %s
operators: {listen: %s}
storage: {path: %s}
components: [{id: api, name: Public API}, {id: db, name: Database}]
checks:
  - {name: api-home, component: api, kind: http, target: "%s/", interval: 1s}
admin: {tokens: [{name: oncall, token: "${OUTPOST_TEST_THREAD_TOKEN}"}]}
email:
  from: status@example.com
  smtp: {host: 127.0.0.1, port: %d, tls: none}
`, freePort(t), freePort(t), data, target.URL, smtpCfg.Port)), 0o600); err != nil {
		t.Fatal(err)
	}
	subscribeConfirmed(t, data, map[string][]string{"ann": {"api"}})
	beats := probes.NewBeats(nil)
	cfg, err := config.Load(path, config.LoadOptions{Probe: probes.Options{Beats: beats}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(Options{ConfigPath: path, Config: cfg, Beats: beats, Logger: slog.New(slog.DiscardHandler), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() { cancel(); <-done }()
	api := "http://" + n.Addr().String() + "/api/v1/incidents"
	auth := []string{"Authorization", "Bearer " + token, "Content-Type", "application/json"}

	code, body := send(t, http.MethodPost, api, `{"name":"Checkout errors","message":"Looking into it.","components":{"api":"major_outage"}}`, auth...)
	var inc struct{ Incident struct{ ID string } }
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &inc) != nil || inc.Incident.ID == "" {
		t.Fatalf("open an incident: %d %s", code, body)
	}
	const addr = "ann@example.com"
	waitFor(t, "the incident's first mail", 10*time.Second, func() bool { return len(mailsTo(box, addr)) == 1 })
	for i, u := range []string{`{"message":"A bad deploy; rolling back.","status":"identified"}`, `{"message":"Rolled back.","status":"resolved"}`} {
		if code, body := send(t, http.MethodPost, api+"/"+inc.Incident.ID+"/updates", u, auth...); code/100 != 2 {
			t.Fatalf("update %d: %d %s", i+1, code, body)
		}
		waitFor(t, fmt.Sprintf("mail %d", i+2), 10*time.Second, func() bool { return len(mailsTo(box, addr)) == i+2 })
	}

	mails := mailsTo(box, addr)
	first, _ := textPart(t, mails[0])
	opener := first.Get("Message-ID")
	if !strings.HasPrefix(opener, "<outpost.evt-") || !strings.HasSuffix(opener, ".em_ann@status.example.com>") {
		t.Fatalf("the first mail's Message-ID %q, want <outpost.EVENT.em_ann@status.example.com>", opener)
	}
	if first.Get("In-Reply-To") != "" || first.Get("References") != "" {
		t.Errorf("the first mail answers something: In-Reply-To %q, References %q", first.Get("In-Reply-To"), first.Get("References"))
	}
	ids := map[string]bool{opener: true}
	for i, raw := range mails {
		hdr, text := textPart(t, raw)
		if !strings.Contains(text, "Affected: Public API\n") {
			t.Errorf("mail %d (%s) does not name the component by its public name:\n%s", i+1, hdr.Get("Subject"), text)
		}
		if i == 0 {
			continue
		}
		if ids[hdr.Get("Message-ID")] {
			t.Errorf("mail %d reuses Message-ID %s", i+1, hdr.Get("Message-ID"))
		}
		ids[hdr.Get("Message-ID")] = true
		if hdr.Get("In-Reply-To") != opener || hdr.Get("References") != opener {
			t.Errorf("mail %d (%s): In-Reply-To %q, References %q, want both %s", i+1, hdr.Get("Subject"),
				hdr.Get("In-Reply-To"), hdr.Get("References"), opener)
		}
	}
}
