package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/outpost-status/outpost/status/notify"
)

// session is one SMTP connection carrying messages one after another.
type session struct {
	c    *gomail.Client
	smtp *gosmtp.Client
	log  *slog.Logger
	conn *boundedConn // under TLS too: rebound to each batch's context
	// idleSince is when the session went back to the pool.
	idleSince time.Time
}

// open connects, greets, secures and authenticates one session. Its
// connection is bounded: each reply is read up to maxReply bytes, and its
// deadlines never pass ctx's.
func (t *Transport) open(ctx context.Context) (*session, error) {
	o := t.o
	var conn net.Conn // go-mail does not close it when EHLO, STARTTLS or AUTH fails
	var bounded *boundedConn
	tlsConf := o.TLSConfig
	if tlsConf == nil {
		tlsConf = &tls.Config{ServerName: o.SMTP.Host, MinVersion: tls.VersionTLS12}
	}
	opts := []gomail.Option{
		gomail.WithPort(o.SMTP.Port), gomail.WithTimeout(o.Timeout), gomail.WithTLSConfig(tlsConf),
		// One round trip per message less each: a session's health shows
		// in the next command's answer anyway.
		gomail.WithoutNoop(), gomail.WithoutRset(),
		gomail.WithDialContextFunc(func(dctx context.Context, network, addr string) (net.Conn, error) {
			c, b, err := dial(ctx, dctx, network, addr, o.SMTP.TLS == ImplicitTLS, tlsConf)
			conn, bounded = c, b
			return c, err
		}),
	}
	switch o.SMTP.TLS {
	case StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default: // implicit TLS is the dialler's; none is none
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if o.HELO != "" {
		opts = append(opts, gomail.WithHELO(o.HELO))
	}
	if o.SMTP.Username != "" {
		opts = append(opts, gomail.WithUsername(o.SMTP.Username), gomail.WithPassword(o.SMTP.Password), gomail.WithSMTPAuth(authType(o.SMTP.TLS)))
	}
	c, err := gomail.NewClient(o.SMTP.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp %s: %w", o.SMTP.Host, err)
	}
	sc, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		if conn != nil {
			_ = conn.Close()
		}
		return nil, fmt.Errorf("smtp session with %s:%d: %w", o.SMTP.Host, o.SMTP.Port, err)
	}
	t.sessions.Add(1)
	o.Log.Debug("smtp session opened", slog.String("target", net.JoinHostPort(o.SMTP.Host, strconv.Itoa(o.SMTP.Port))))
	return &session{c: c, smtp: sc, log: o.Log, conn: bounded}, nil
}

// authType picks the mechanism: the strongest the server offers, where
// go-mail can tell the connection is encrypted (it refuses PLAIN and
// LOGIN in clear); PLAIN under implicit TLS, whose connection go-mail
// did not open itself.
func authType(mode TLSMode) gomail.SMTPAuthType {
	if mode == ImplicitTLS {
		return gomail.SMTPAuthPlain
	}
	return gomail.SMTPAuthAutoDiscover
}

// send hands one message over; broken says the session cannot carry
// another (the connection failed, or the server said 421: closing).
func (s *session) send(m Message) (Outcome, bool) {
	if m.msg == nil {
		return Outcome{ID: m.ID, Err: &notify.PermanentError{Err: errors.New("email: an empty message")}}, false
	}
	err := s.c.SendWithSMTPClient(s.smtp, m.msg)
	o, broken := judge(err)
	o.ID = m.ID
	return o, broken
}

// close ends the session politely if it can; a nil session is closed.
func (s *session) close() {
	if s == nil {
		return
	}
	if err := s.c.CloseWithSMTPClient(s.smtp); err != nil {
		s.log.Debug("smtp session closed uncleanly", slog.String("error", err.Error()))
	}
}

// judge maps go-mail's answer onto the outcome vocabulary. The reasons
// that matter: RCPT TO and the end of DATA are about this message; a
// failure there without a reply code means the connection went; after
// the whole message went out (DataClose) that is ambiguous.
func judge(err error) (o Outcome, broken bool) {
	if err == nil {
		return Outcome{}, false
	}
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return Outcome{Err: err}, true
	}
	o = Outcome{Err: err, Code: se.ErrorCode()}
	switch {
	case se.Reason == gomail.ErrSMTPReset:
		return Outcome{}, true // accepted; only the reset after it failed
	case o.Code == 0:
		o.Ambiguous = se.Reason == gomail.ErrSMTPDataClose
		return o, true
	case o.Code >= 500 && (se.Reason == gomail.ErrSMTPRcptTo || se.Reason == gomail.ErrSMTPDataClose):
		o.Err = &notify.PermanentError{Err: err}
	}
	return o, o.Code == 421
}
