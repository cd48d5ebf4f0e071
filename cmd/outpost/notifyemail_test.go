package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"
)

// inbox is an in-process SMTP server (go-smtp) keeping each mail's
// recipients and bytes.
type inbox struct {
	mu    sync.Mutex
	to    []string
	mails []string
}

func (b *inbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &inboxSession{b: b}, nil }

type inboxSession struct{ b *inbox }

func (s *inboxSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *inboxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.b.mu.Lock()
	s.b.to = append(s.b.to, to)
	s.b.mu.Unlock()
	return nil
}
func (s *inboxSession) Data(r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	s.b.mu.Lock()
	s.b.mails = append(s.b.mails, string(data))
	s.b.mu.Unlock()
	return err
}
func (s *inboxSession) Reset()        {}
func (s *inboxSession) Logout() error { return nil }

func serveInbox(t *testing.T) (*inbox, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &inbox{}
	srv := smtp.NewServer(b)
	srv.Domain, srv.ReadTimeout, srv.WriteTimeout = "mx.test", 10*time.Second, 10*time.Second
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return b, l.Addr().(*net.TCPAddr).Port
}

// `outpost notify test -email ADDR` sends one marked test mail through the
// config's email section, and says clearly why when it cannot.
func TestNotifyTestEmail(t *testing.T) {
	box, port := serveInbox(t)
	base := "site: {title: Acme, url: \"https://status.example.com\"}\ncomponents: [{id: a, name: A}]\n"
	withEmail := writeConfig(t, base+fmt.Sprintf("email:\n  from: status@example.com\n  smtp: {host: 127.0.0.1, port: %d, tls: none}\n", port))
	without := writeConfig(t, base)
	for _, tc := range []struct {
		name, cfg, addr string
		code            int
		says            string
	}{
		{"no email section", without, "ann@example.org", exitConfig, "no email section"},
		{"invalid address", withEmail, "not an address", exitConfig, "not an address"},
		{"sent", withEmail, "ann@example.org", exitOK, "sent a test mail to ann@example.org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(t.Context(), []string{"notify", "test", "-config", tc.cfg, "-email", tc.addr}, &out, &errb)
			if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.says) {
				t.Fatalf("exit %d, want %d; output %q, want %q in it", code, tc.code, out.String()+errb.String(), tc.says)
			}
		})
	}
	box.mu.Lock()
	defer box.mu.Unlock()
	if len(box.mails) != 1 || len(box.to) != 1 || box.to[0] != "ann@example.org" {
		t.Fatalf("mails %d to %q, want one to ann@example.org", len(box.mails), box.to)
	}
	if m := box.mails[0]; !strings.Contains(m, "Subject: [Acme] Test message from Outpost") || !strings.Contains(m, "This is a test message from Outpost") {
		t.Errorf("the mail is not marked as a test:\n%s", m)
	}
}
