package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
)

// emailConfig writes a config with an email section handing mail to smtp
// and one check of target, and loads it.
func emailConfig(t *testing.T, dir, smtpAddr, target string) (string, *config.Config, *probes.Beats) {
	t.Helper()
	path := filepath.Join(dir, "config.yaml")
	host, port, _ := strings.Cut(smtpAddr, ":")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`
site: {title: Acme Status, url: "https://status.example.com"}
listen: %s
operators: {listen: %s}
storage: {path: %s}
components: [{id: api, name: Public API}]
checks:
  - {name: api-home, component: api, kind: http, target: "%s/", interval: 1s, failure_threshold: 1, success_threshold: 1}
email:
  from: status@example.com
  smtp: {host: %s, port: %s, tls: none}
`, freePort(t), freePort(t), filepath.Join(dir, "outpost.db"), target, host, port)), 0o600); err != nil {
		t.Fatal(err)
	}
	beats := probes.NewBeats(nil)
	cfg, err := config.Load(path, config.LoadOptions{Probe: probes.Options{Beats: beats}})
	if err != nil {
		t.Fatal(err)
	}
	return path, cfg, beats
}

// The config's email section is what turns email on: serve passes nothing
// else.
func TestEmailSectionTurnsEmailOn(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer target.Close()
	_, smtpCfg := serveMailbox(t)
	path, cfg, beats := emailConfig(t, t.TempDir(), fmt.Sprintf("127.0.0.1:%d", smtpCfg.Port), target.URL)
	n, err := New(Options{ConfigPath: path, Config: cfg, Beats: beats, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.mail == nil {
		t.Fatal("a config with an email section built no email loop")
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// mailsTo are the mails box received for addr.
func mailsTo(box *mailbox, addr string) [][]byte {
	var out [][]byte
	for _, m := range box.received() {
		for _, to := range m.to {
			if to == addr {
				out = append(out, m.data)
			}
		}
	}
	return out
}

// textPart is a mail's decoded text/plain part.
func textPart(t *testing.T, raw []byte) (mail.Header, string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextPart() // decodes quoted-printable
		if err != nil {
			t.Fatalf("no text part: %v", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			b, err := io.ReadAll(p)
			if err != nil {
				t.Fatal(err)
			}
			return m.Header, strings.ReplaceAll(string(b), "\r\n", "\n")
		}
	}
}

func send(t *testing.T, method, u, body string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

var confirmLine = regexp.MustCompile(`(?m)^https://status\.example\.com(/confirm/[A-Za-z0-9_-]+)$`)

// Double opt-in end to end on one node, through its real HTTP handlers
// and SMTP: the form mails a confirmation whose text part has the bare
// link on a line of its own; its GET changes nothing, its POST confirms;
// an incident then mails the subscriber, whose one-click List-Unsubscribe
// POST deletes them, and the next incident mails them nothing.
func TestEmailDoubleOptInEndToEnd(t *testing.T) {
	var down atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer target.Close()
	box, smtpCfg := serveMailbox(t)
	dir := t.TempDir()
	path, cfg, beats := emailConfig(t, dir, fmt.Sprintf("127.0.0.1:%d", smtpCfg.Port), target.URL)
	subscribeConfirmed(t, filepath.Join(dir, "outpost.db"), map[string][]string{"witness": nil})
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
	base, own := "http://"+n.Addr().String(), []string{"Origin", "https://status.example.com", "Content-Type", "application/x-www-form-urlencoded"}

	code, page := send(t, http.MethodPost, base+"/subscribe", "email="+url.QueryEscape("ann@example.org"), own...)
	if code != http.StatusOK || !strings.Contains(page, "Check your inbox") {
		t.Fatalf("POST /subscribe: %d %s", code, page)
	}
	waitFor(t, "the confirmation mail", 10*time.Second, func() bool { return len(mailsTo(box, "ann@example.org")) == 1 })
	_, text := textPart(t, mailsTo(box, "ann@example.org")[0])
	m := confirmLine.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no bare confirm link on its own line in:\n%s", text)
	}
	sub, err := n.st.EmailSubscriber("ann@example.org")
	if err != nil || sub.State != store.SubPending {
		t.Fatalf("after the form: %+v %v", sub, err)
	}
	if code, page := send(t, http.MethodGet, base+m[1], ""); code != http.StatusOK || !strings.Contains(page, ">Confirm</button>") {
		t.Fatalf("GET the link: %d %s", code, page)
	}
	if sub, _ := n.st.EmailSubscriber("ann@example.org"); sub.State != store.SubPending {
		t.Fatalf("a GET changed the subscriber: %s", sub.State)
	}
	if code, page := send(t, http.MethodPost, base+m[1], "", own...); code != http.StatusOK || !strings.Contains(page, "confirmed") {
		t.Fatalf("POST the link: %d %s", code, page)
	}
	if sub, _ = n.st.EmailSubscriber("ann@example.org"); sub.State != store.SubActive {
		t.Fatalf("after confirming: %s", sub.State)
	}

	down.Store(true) // an incident
	waitFor(t, "the incident's mail", 20*time.Second, func() bool { return len(mailsTo(box, "ann@example.org")) == 2 })
	hdr, _ := textPart(t, mailsTo(box, "ann@example.org")[1])
	oneClick := strings.Trim(strings.TrimSpace(hdr.Get("List-Unsubscribe")), "<>")
	tail, ok := strings.CutPrefix(oneClick, "https://status.example.com/unsubscribe/")
	if !ok || hdr.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Fatalf("List-Unsubscribe %q, List-Unsubscribe-Post %q", hdr.Get("List-Unsubscribe"), hdr.Get("List-Unsubscribe-Post"))
	}
	// As a mailbox provider sends it: no Origin, the one-click body.
	if code, page := send(t, http.MethodPost, base+"/unsubscribe/"+tail, "List-Unsubscribe=One-Click",
		"Content-Type", "application/x-www-form-urlencoded"); code != http.StatusOK {
		t.Fatalf("one-click: %d %s", code, page)
	}
	if _, err := n.st.Subscription(sub.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after one-click the subscriber reads %v, want gone", err)
	}

	// The incident resolves and a new one opens: the witness hears both,
	// ann nothing more.
	witness := len(mailsTo(box, "witness@example.com"))
	down.Store(false)
	waitFor(t, "the resolution's mail", 20*time.Second, func() bool { return len(mailsTo(box, "witness@example.com")) == witness+1 })
	down.Store(true)
	waitFor(t, "the next incident's mail", 20*time.Second, func() bool { return len(mailsTo(box, "witness@example.com")) == witness+2 })
	if got := len(mailsTo(box, "ann@example.org")); got != 2 {
		t.Fatalf("ann got %d mails, want 2 (confirmation, first incident)", got)
	}
}
