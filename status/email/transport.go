package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/outpost-status/outpost/status/notify"
)

// TLSMode is how the SMTP connection is protected.
type TLSMode string

// The TLS modes of `email.smtp.tls`.
const (
	// StartTLS upgrades a plain connection (port 587); a server that does
	// not offer STARTTLS is refused.
	StartTLS TLSMode = "starttls"
	// ImplicitTLS speaks TLS from the first byte (port 465).
	ImplicitTLS TLSMode = "implicit"
	// NoTLS sends in clear (a relay on localhost).
	NoTLS TLSMode = "none"
)

// Config is the `email:` section as config.yaml spells it. Loading and
// validating it is status/config's job; NewTransport checks what it needs.
type Config struct {
	From    string     `yaml:"from"`
	ReplyTo string     `yaml:"reply_to"`
	SMTP    SMTPConfig `yaml:"smtp"`
	// Concurrency is how many SMTP sessions run at once (default 2).
	Concurrency int `yaml:"concurrency"`
	// RateLimit is messages per second over all sessions (0: no limit).
	RateLimit float64 `yaml:"rate_limit"`
	// DomainRateLimit is messages per second to one recipient domain
	// (0: DefaultDomainRate); see DomainRate.
	DomainRateLimit float64 `yaml:"domain_rate_limit"`
}

// DefaultDomainRate is the per-recipient-domain rate when none is set:
// 1,200 mails a minute to one provider, far above what a status page's
// list sends a small domain, and a pace big providers take from a
// sender they do not know yet.
const DefaultDomainRate = 20

// DomainRate is the per-recipient-domain throttle in messages per
// second: the delivery loop starts at most this many of one domain's
// mails a second (ceil of it at once), while other domains' go on. There
// is no "none": one large provider must not get thousands of mails at
// once, so a list with a special arrangement sets it high.
func (c Config) DomainRate() (float64, error) {
	r := c.DomainRateLimit
	switch {
	case r == 0:
		return DefaultDomainRate, nil
	case r < 0 || math.IsNaN(r) || math.IsInf(r, 0):
		return 0, fmt.Errorf("email: domain_rate_limit %v: want messages per second to one recipient domain (default %d)", r, DefaultDomainRate)
	}
	return r, nil
}

// SMTPConfig is the server mail is handed to.
type SMTPConfig struct {
	Host     string  `yaml:"host"`
	Port     int     `yaml:"port"`
	Username string  `yaml:"username"`
	Password string  `yaml:"password"`
	TLS      TLSMode `yaml:"tls"`
}

// TransportOptions configure a Transport.
type TransportOptions struct {
	SMTP        SMTPConfig
	Concurrency int
	RateLimit   float64
	// Timeout bounds connecting (greeting, EHLO, TLS, AUTH) and then each
	// message's whole exchange (default 30 s); the context passed to Send
	// bounds everything as well.
	Timeout time.Duration
	// TLSConfig is for tests and private CAs (nil: system roots, the
	// server name from SMTP.Host).
	TLSConfig *tls.Config
	// HELO is the name Outpost gives in EHLO (default: the host name).
	HELO string
	Log  *slog.Logger
}

// Outcome is what became of one message of a batch.
type Outcome struct {
	// ID is the message's Message-ID.
	ID string
	// Err is nil when the server accepted the message (a 2xx answer to
	// the end of DATA). Otherwise notify.Judge(Err) says what comes next,
	// in the vocabulary every delivery loop uses: Permanent for a 5xx
	// answer to RCPT TO or to the end of DATA (this recipient or this
	// message is refused: the delivery fails for good); anything else
	// (4xx, a dropped or timed-out connection, a server that cannot be
	// reached or refuses the session) is retried with the backoff step.
	Err error
	// Code is the server's reply code, 0 when none came.
	Code int
	// Ambiguous: the whole message went out and the connection failed
	// before the server answered. The server may have accepted it, so a
	// retry (with the same Message-ID) can deliver it twice: at least
	// once, never silently dropped.
	Ambiguous bool
}

// Verdict is the outcome in the words of every delivery loop: permanent,
// or retry (SMTP asks for no particular wait, so RetryAfter stays zero
// and the delivery rule's backoff step applies).
func (o Outcome) Verdict() notify.Verdict { return notify.Judge(o.Err) }

// Transport sends batches of mail over SMTP: each session carries many
// messages, at most Concurrency sessions run at once, and every read from
// the server is bounded in size and time.
type Transport struct {
	o        TransportOptions
	limit    *rate.Limiter
	sessions atomic.Uint64
	pool     *pool
}

// DefaultConcurrency is the number of SMTP sessions when none is set.
const DefaultConcurrency = 2

// DefaultTimeout bounds connecting and each message when none is set.
const DefaultTimeout = 30 * time.Second

// NewTransport checks the options.
func NewTransport(o TransportOptions) (*Transport, error) {
	switch {
	case o.SMTP.Host == "":
		return nil, errors.New("email: smtp.host is required")
	case o.SMTP.Port < 0 || o.SMTP.Port > 65535:
		return nil, fmt.Errorf("email: smtp.port %d is out of range", o.SMTP.Port)
	case o.Concurrency < 0:
		return nil, fmt.Errorf("email: concurrency %d: want 1 or more", o.Concurrency)
	case o.RateLimit < 0 || math.IsNaN(o.RateLimit) || math.IsInf(o.RateLimit, 0):
		return nil, fmt.Errorf("email: rate_limit %v: want messages per second, 0 for none", o.RateLimit)
	}
	switch o.SMTP.TLS {
	case "":
		o.SMTP.TLS = StartTLS
	case StartTLS, ImplicitTLS, NoTLS:
	default:
		return nil, fmt.Errorf("email: smtp.tls %q: want starttls, implicit or none", o.SMTP.TLS)
	}
	if o.SMTP.Port == 0 {
		o.SMTP.Port = map[TLSMode]int{StartTLS: 587, ImplicitTLS: 465, NoTLS: 25}[o.SMTP.TLS]
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	t := &Transport{o: o, limit: rate.NewLimiter(rate.Inf, 1), pool: newPool(o.Concurrency)}
	if o.RateLimit > 0 {
		t.limit = rate.NewLimiter(rate.Limit(o.RateLimit), int(math.Ceil(o.RateLimit)))
	}
	return t, nil
}

// Sessions is how many SMTP sessions the transport has opened.
func (t *Transport) Sessions() uint64 { return t.sessions.Load() }

// Send hands a batch to the server and returns one outcome per message,
// in order, once every message has one, so the caller can commit the
// batch's outcomes together. Messages share sessions: a worker keeps its
// session for the next message until the server ends it.
func (t *Transport) Send(ctx context.Context, msgs []Message) []Outcome {
	out := make([]Outcome, len(msgs))
	queue := make(chan int, len(msgs))
	for i := range msgs {
		out[i].ID = msgs[i].ID
		queue <- i
	}
	close(queue)
	var (
		wg   sync.WaitGroup
		down unreachable
	)
	for range min(t.o.Concurrency, len(msgs)) {
		wg.Go(func() { t.work(ctx, msgs, queue, out, &down) })
	}
	wg.Wait()
	return out
}

// unreachable is the first failure to open a session: once the server
// cannot be reached, the rest of the batch waits for the next attempt
// instead of each message dialling in turn.
type unreachable struct {
	mu  sync.Mutex
	err error
}

func (u *unreachable) get() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

func (u *unreachable) set(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err == nil {
		u.err = err
	}
}

// work sends queued messages over one session at a time, taken from the
// pool and put back healthy when the queue is done.
func (t *Transport) work(ctx context.Context, msgs []Message, queue <-chan int, out []Outcome, down *unreachable) {
	var s *session
	defer func() {
		if s != nil {
			t.put(s)
		}
	}()
	for i := range queue {
		if err := down.get(); err != nil {
			out[i].Err = fmt.Errorf("not sent: %w", err)
			continue
		}
		if err := t.limit.Wait(ctx); err != nil {
			out[i].Err = fmt.Errorf("not sent: %w", err)
			continue
		}
		var err error
		if out[i], s, err = t.sendOn(ctx, s, msgs[i], true); err != nil {
			down.set(err)
			out[i].Err = fmt.Errorf("not sent: %w", err)
		}
	}
}

// sendOn sends m over s, or over a session from the pool when s is nil,
// and returns the session to go on with (nil when it broke); err is a
// session that could not be opened. A pooled session the server closed
// while it was idle fails before the end of the data, where the server
// cannot have taken the message: m goes once more, on a new session.
func (t *Transport) sendOn(ctx context.Context, s *session, m Message, again bool) (Outcome, *session, error) {
	reused := false
	if s == nil {
		var err error
		if s, reused, err = t.get(ctx); err != nil {
			return Outcome{ID: m.ID}, nil, err
		}
	}
	o, broken := s.send(m)
	if broken && reused && again && o.Code == 0 && !o.Ambiguous {
		t.pool.discard(s)
		t.pool.flushIdle()
		return t.sendOn(ctx, nil, m, false)
	}
	if broken {
		t.pool.discard(s)
		return o, nil, nil
	}
	return o, s, nil
}
