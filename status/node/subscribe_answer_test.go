package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"
)

// gatedBox is a mailbox whose end of DATA waits while held, or refuses
// (451) while refusing: a slow or unwilling mail server.
type gatedBox struct {
	box *mailbox

	mu      sync.Mutex
	refuse  bool
	release chan struct{} // closed: mails go through
	once    sync.Once
}

func (g *gatedBox) open() { g.once.Do(func() { close(g.release) }) }

func (g *gatedBox) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s, err := g.box.NewSession(c)
	return &gatedSession{Session: s, g: g}, err
}

type gatedSession struct {
	smtp.Session
	g *gatedBox
}

func (s *gatedSession) Data(r io.Reader) error {
	<-s.g.release
	s.g.mu.Lock()
	refuse := s.g.refuse
	s.g.mu.Unlock()
	if refuse {
		_, _ = io.Copy(io.Discard, io.LimitReader(r, 1<<20))
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	return s.Session.Data(r)
}

// The subscribe answer tells nobody whether an address subscribes: not
// by its words, not by its status, not by its time. An address already
// confirmed gets no mail; a new one gets a confirmation mail; so an
// answer that waits for that mail (or reports its failure) is an oracle:
// with a mail server that is slow, the answer for a new address comes
// seconds after the one for a subscriber, and with one that refuses, a
// new address gets 503 where a subscriber gets the usual answer. Both the
// JSON API and the form answer before any mail is sent, the same for
// both addresses, and the mail still goes once the server takes it.
func TestSubscribeAnswerTellsNothingAboutTheAddress(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer target.Close()
	g := &gatedBox{box: &mailbox{}, release: make(chan struct{})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(g)
	srv.Domain, srv.ReadTimeout, srv.WriteTimeout = "mx.test", 10*time.Second, 10*time.Second
	go func() { _ = srv.Serve(l) }()
	defer func() { g.open(); _ = srv.Close() }()

	dir := t.TempDir()
	path, cfg, beats := emailConfig(t, dir, l.Addr().String(), target.URL)
	subscribeConfirmed(t, filepath.Join(dir, "outpost.db"), map[string][]string{"known": nil})
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
	defer func() { g.open(); cancel(); <-done }()
	base := "http://" + n.Addr().String()
	client := &http.Client{Timeout: 5 * time.Second}
	post := func(t *testing.T, route, addr string) (int, string, time.Duration) {
		t.Helper()
		body, ctype := fmt.Sprintf(`{"kind":"email","email":%q}`, addr), "application/json"
		if route == "/subscribe" {
			body, ctype = "email="+url.QueryEscape(addr), "application/x-www-form-urlencoded"
		}
		req, _ := http.NewRequest(http.MethodPost, base+route, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Origin", "https://status.example.com")
		start := time.Now()
		resp, err := client.Do(req)
		took := time.Since(start)
		if err != nil {
			t.Fatalf("POST %s for %s: no answer after %s while the mail server held the mail: %v", route, addr, took.Round(time.Millisecond), err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, string(b), took
	}

	for _, c := range []struct {
		name, route, fresh string
		refuse             bool
	}{
		{"slow mail server, JSON API", "/api/v1/subscriptions", "new1@example.org", false},
		{"refusing mail server, form", "/subscribe", "new2@example.org", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			g.mu.Lock()
			g.refuse = c.refuse
			g.mu.Unlock()
			if c.refuse {
				g.open() // refused at once, not held
			}
			kCode, kBody, kTook := post(t, c.route, "known@example.com")
			nCode, nBody, nTook := post(t, c.route, c.fresh)
			if nCode != kCode || nBody != kBody {
				t.Fatalf("a subscriber's address: %d %q; a new one: %d %q", kCode, clip(kBody), nCode, clip(nBody))
			}
			if kCode/100 != 2 {
				t.Fatalf("answer %d %s", kCode, kBody)
			}
			// Both answered while the server still held every mail: the
			// answer waited for no mail (the two times differ by
			// scheduling only, not by an SMTP exchange).
			t.Logf("answered in %s (subscriber) and %s (new address)", kTook, nTook)
			g.open()
			if !c.refuse {
				waitFor(t, "the confirmation mail", 10*time.Second, func() bool { return len(mailsTo(g.box, c.fresh)) == 1 })
			}
			if len(mailsTo(g.box, "known@example.com")) != 0 {
				t.Fatal("the confirmed subscriber was mailed a confirmation")
			}
		})
	}
}

// clip is the start of a page, for a failure's message.
func clip(s string) string {
	if i := strings.Index(s, "<main>"); i >= 0 {
		s = s[i:]
	}
	return s[:min(len(s), 200)]
}
