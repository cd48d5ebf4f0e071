package email

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"

	sasl "github.com/emersion/go-sasl"
	smtp "github.com/emersion/go-smtp"

	"github.com/outpost-status/outpost/status"
)

// fakeMTA is an in-process SMTP server (emersion/go-smtp) whose answers
// a test scripts, counting sessions and what it accepted.
type fakeMTA struct {
	// rcpt answers RCPT TO (nil: accept); it may close c's connection.
	rcpt func(c *smtp.Conn, to string) error
	// mailFrom answers MAIL FROM for the n-th transaction (0-based).
	mailFrom func(n int) error
	// data answers the end of DATA for the n-th message read (0-based),
	// after the message was read; it may close c's connection.
	data func(c *smtp.Conn, n int) error
	// password, when set, is required (AUTH PLAIN, user "outpost").
	password string
	// tls is the server's certificate for STARTTLS or implicit TLS.
	tls *tls.Config

	mu                          sync.Mutex
	sessions, active, maxActive int
	mails, datas                int
	accepted                    []string // Message-IDs
	clear                       int      // transactions begun without TLS
}

func (f *fakeMTA) NewSession(c *smtp.Conn) (smtp.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions++
	f.active++
	f.maxActive = max(f.maxActive, f.active)
	s := &fakeSession{f: f, c: c}
	if f.password != "" {
		return &authSession{s}, nil
	}
	return s, nil
}

// authSession is a session that wants AUTH PLAIN before MAIL FROM.
type authSession struct{ *fakeSession }

func (s *authSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *authSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "outpost" || pass != s.f.password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.authed = true
		return nil
	}), nil
}

func (f *fakeMTA) counts() (sessions, maxActive, accepted int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sessions, f.maxActive, len(f.accepted)
}

type fakeSession struct {
	f      *fakeMTA
	c      *smtp.Conn
	authed bool
}

func (s *fakeSession) Reset() {}

func (s *fakeSession) Logout() error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.active--
	return nil
}

func (s *fakeSession) Mail(string, *smtp.MailOptions) error {
	if s.f.password != "" && !s.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	_, secure := s.c.TLSConnectionState()
	s.f.mu.Lock()
	n := s.f.mails
	s.f.mails++
	if !secure {
		s.f.clear++
	}
	s.f.mu.Unlock()
	if s.f.mailFrom != nil {
		return s.f.mailFrom(n)
	}
	return nil
}

func (s *fakeSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.f.rcpt != nil {
		return s.f.rcpt(s.c, to)
	}
	return nil
}

func (s *fakeSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.f.mu.Lock()
	n := s.f.datas
	s.f.datas++
	s.f.mu.Unlock()
	if s.f.data != nil {
		if err := s.f.data(s.c, n); err != nil {
			return err
		}
	}
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.accepted = append(s.f.accepted, messageIDOf(b))
	return nil
}

// messageIDOf finds the Message-ID header in a received message.
func messageIDOf(b []byte) string {
	const key = "\r\nMessage-ID: "
	s := "\r\n" + string(b)
	for i := 0; i+len(key) <= len(s); i++ {
		if s[i:i+len(key)] == key {
			rest := s[i+len(key):]
			for j := 0; j+1 < len(rest); j++ {
				if rest[j] == '\r' {
					return rest[:j]
				}
			}
		}
	}
	return ""
}

// serve starts f on a loopback port and returns the transport's SMTP
// settings for it.
func serve(t *testing.T, f *fakeMTA) SMTPConfig { return serveMode(t, f, NoTLS) }

// serveMode starts f for a TLS mode: with f.tls, STARTTLS is offered
// (starttls) or spoken from the first byte (implicit).
func serveMode(t *testing.T, f *fakeMTA, mode TLSMode) SMTPConfig {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(f)
	srv.TLSConfig = f.tls
	if mode == ImplicitTLS {
		l = tls.NewListener(l, f.tls)
	}
	srv.Domain = "mx.test"
	srv.AllowInsecureAuth = true
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	host, port, _ := net.SplitHostPort(l.Addr().String())
	p, _ := strconv.Atoi(port)
	return SMTPConfig{Host: host, Port: p, TLS: mode}
}

// batch builds n confirmation mails to distinct subscribers.
func batch(t testing.TB, n int) []Message {
	t.Helper()
	c := composer(t, "https://status.example.com", "Acme Status")
	out := make([]Message, n)
	for i := range out {
		ev := incidentEvent(status.IncidentCreated, "evt-7", status.Investigating, "")
		in := subscriberIn(ev, "")
		in.To = Subscriber{ID: fmt.Sprintf("sub-%d", i), Address: fmt.Sprintf("reader%d@example.net", i)}
		m, err := c.Incident(in)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = m
	}
	return out
}
