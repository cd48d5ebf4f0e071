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
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"

	"github.com/outpost-status/outpost/status/store"
)

// refusingServer is an SMTP server that refuses some recipients the way
// real servers do: repeating the address in its answer.
type refusingServer struct {
	refuse map[string]int // address → reply code (550, 451)
	told   atomic.Int64   // answers that carried an address
}

func (r *refusingServer) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &refusingSession{r: r}, nil
}

type refusingSession struct{ r *refusingServer }

func (s *refusingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *refusingSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	code, ok := s.r.refuse[strings.ToLower(to)]
	if !ok {
		return nil
	}
	s.r.told.Add(1)
	enh := smtp.EnhancedCode{code / 100, 1, 1}
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: fmt.Sprintf("<%s>: Recipient address rejected: User unknown in virtual mailbox table (%s)", to, to)}
}
func (s *refusingSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, io.LimitReader(r, 1<<20))
	return err
}
func (s *refusingSession) Reset()        {}
func (s *refusingSession) Logout() error { return nil }

// lockedBuffer collects a logger's output from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Addresses never reach the logs at info level or above, though the SMTP
// server repeats them in its refusals: on the subscribe form (the
// confirmation mail refused), on an incident's mails (550 and 451) and
// when repeated refusals disable a subscriber.
func TestNoAddressInLogsAtInfo(t *testing.T) {
	var down atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer target.Close()
	const (
		bob   = "bob@example.com"   // confirmed; every mail refused for good
		carol = "carol@example.com" // confirmed; every mail deferred
		dave  = "dave@example.org"  // subscribes; the confirmation refused
	)
	mx := &refusingServer{refuse: map[string]int{bob: 550, carol: 451, dave: 550}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(mx)
	srv.Domain, srv.ReadTimeout, srv.WriteTimeout = "mx.test", 10*time.Second, 10*time.Second
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	dir := t.TempDir()
	path, cfg, beats := emailConfig(t, dir, l.Addr().String(), target.URL)
	subscribeConfirmed(t, filepath.Join(dir, "outpost.db"), map[string][]string{"bob": nil, "carol": nil})
	var logs lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	n, err := New(Options{ConfigPath: path, Config: cfg, Beats: beats, Logger: logger, Version: "test"})
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

	base := "http://" + n.Addr().String()
	code, page := send(t, http.MethodPost, base+"/subscribe", "email="+url.QueryEscape(dave),
		"Origin", "https://status.example.com", "Content-Type", "application/x-www-form-urlencoded")
	// The answer waits for no mail (it would tell who subscribes): the
	// refusal reaches the log after it.
	if code != http.StatusOK || !strings.Contains(page, "Check your inbox") {
		t.Fatalf("POST /subscribe: %d %s", code, page)
	}
	waitFor(t, "the refused confirmation logged", 10*time.Second, func() bool { return strings.Contains(logs.String(), "email subscription failed") })
	// Created, resolved, created again: three refusals disable bob.
	for i, state := range []bool{true, false, true} {
		down.Store(state)
		waitFor(t, fmt.Sprintf("bob's mail %d", i+1), 20*time.Second, func() bool {
			sub, err := n.st.Subscription("em_bob")
			return err == nil && (sub.PermanentFailures == i+1 || sub.State == store.SubDisabled)
		})
	}
	waitFor(t, "bob disabled", 10*time.Second, func() bool {
		sub, err := n.st.Subscription("em_bob")
		return err == nil && sub.State == store.SubDisabled
	})
	waitFor(t, "the disabling logged", 5*time.Second, func() bool { return strings.Contains(logs.String(), "subscription disabled") })

	out := logs.String()
	if mx.told.Load() < 4 || !strings.Contains(out, "email subscription failed") {
		t.Fatalf("the paths were not exercised: %d refusals naming an address; logs:\n%s", mx.told.Load(), out)
	}
	for _, addr := range []string{bob, carol, dave} {
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(strings.ToLower(line), addr) {
				t.Errorf("%s in a log record at info or above: %s", addr, line)
			}
		}
	}
}
