package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/email"
	"github.com/outpost-status/outpost/status/store"
)

// mailbox is an in-process SMTP server (go-smtp) that accepts every mail
// and keeps each one's envelope recipients and bytes.
type mailbox struct {
	mu    sync.Mutex
	mails []delivered
}

type delivered struct {
	to   []string
	data []byte
}

func (m *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{m: m}, nil }

func (m *mailbox) received() []delivered {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]delivered(nil), m.mails...)
}

type mailSession struct {
	m  *mailbox
	to []string
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	s.m.mails = append(s.m.mails, delivered{to: s.to, data: b})
	s.m.mu.Unlock()
	s.to = nil
	return nil
}
func (s *mailSession) Reset()        { s.to = nil }
func (s *mailSession) Logout() error { return nil }

func serveMailbox(t *testing.T) (*mailbox, email.SMTPConfig) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &mailbox{}
	srv := smtp.NewServer(m)
	srv.Domain, srv.ReadTimeout, srv.WriteTimeout = "mx.test", 10*time.Second, 10*time.Second
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return m, email.SMTPConfig{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, TLS: email.NoTLS}
}

// subscribeConfirmed stores email subscribers before the node starts:
// each confirmed unless its name starts with "unconfirmed".
func subscribeConfirmed(t *testing.T, path string, subs map[string][]string) {
	t.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	for name, comps := range subs {
		sub := store.Subscription{ID: "em_" + name, Kind: store.KindEmail, Address: name + "@example.com", Components: comps,
			ConfirmHash: store.HashToken("tok-" + name), ConfirmUntil: now.Add(time.Hour), CreatedAt: now, StateAt: now}
		if _, err := st.Apply(store.Entry{At: now, Subscribe: &store.NewSubscription{Sub: sub}}); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(name, "unconfirmed") {
			continue
		}
		if _, err := st.Apply(store.Entry{At: now, Confirm: &store.Confirmation{TokenHash: store.HashToken("tok-" + name)}}); err != nil {
			t.Fatal(err)
		}
	}
}

// An incident fans out to the confirmed email subscribers who chose its
// component (or all), not to an unconfirmed one nor to one who chose
// another component; each gets one mail, and the outcomes are recorded.
func TestIncidentMailsConfirmedSubscribers(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	defer target.Close()
	box, smtpCfg := serveMailbox(t)
	dir := t.TempDir()
	path, data := filepath.Join(dir, "config.yaml"), filepath.Join(dir, "outpost.db")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`
site: {title: Acme Status, url: "http://status.example.com"}
listen: %s
operators: {listen: %s}
storage: {path: %s}
components: [{id: api, name: Public API}, {id: db, name: Database}]
checks:
  - {name: api-home, component: api, kind: http, target: "%s/", interval: 1s, failure_threshold: 1, success_threshold: 1}
`, freePort(t), freePort(t), data, target.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	subscribeConfirmed(t, data, map[string][]string{"all": nil, "api": {"api"}, "unconfirmed": nil, "dbonly": {"db"}})
	beats := probes.NewBeats(nil)
	cfg, err := config.Load(path, config.LoadOptions{Probe: probes.Options{Beats: beats}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(Options{ConfigPath: path, Config: cfg, Beats: beats, Logger: slog.New(slog.DiscardHandler), Version: "test",
		Email: &email.Config{From: "status@example.com", SMTP: smtpCfg}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Listen(); err != nil {
		n.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for len(box.received()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stop: %v", err)
	}
	n.Close()
	got := map[string]int{}
	for _, m := range box.received() {
		for _, to := range m.to {
			got[to]++
		}
		if !bytes.Contains(m.data, []byte("Public API")) {
			t.Errorf("a mail to %v does not name the component:\n%s", m.to, m.data)
		}
	}
	if len(got) != 2 || got["all@example.com"] != 1 || got["api@example.com"] != 1 {
		t.Fatalf("mails by recipient %v, want one each to all@ and api@ (none to unconfirmed@ or dbonly@)", got)
	}
	st, err := store.Open(data, store.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range []string{"em_all", "em_api"} {
		if log, err := st.WebhookLog(id, 5); err != nil || len(log) != 1 || log[0].State != store.Sent {
			t.Errorf("%s's deliveries: %+v (%v), want one sent", id, log, err)
		}
	}
	for _, id := range []string{"em_unconfirmed", "em_dbonly"} {
		if log, _ := st.WebhookLog(id, 5); len(log) != 0 {
			t.Errorf("%s got deliveries: %+v", id, log)
		}
	}
}
