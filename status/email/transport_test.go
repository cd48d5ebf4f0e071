package email

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"

	"github.com/outpost-status/outpost/status/notify"
)

func transport(t *testing.T, cfg SMTPConfig, concurrency int, timeout time.Duration) *Transport {
	t.Helper()
	tr, err := NewTransport(TransportOptions{SMTP: cfg, Concurrency: concurrency, Timeout: timeout, HELO: "outpost.test"})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// want is what one message's outcome must say.
type want struct {
	ok, permanent, ambiguous bool
	code                     int
}

func check(t *testing.T, i int, o Outcome, w want) {
	t.Helper()
	v := o.Verdict()
	switch {
	case w.ok && o.Err != nil:
		t.Errorf("message %d: %v, want accepted", i, o.Err)
	case !w.ok && o.Err == nil:
		t.Errorf("message %d: accepted, want a failure", i)
	case !w.ok && (v.Permanent != w.permanent || o.Ambiguous != w.ambiguous || o.Code != w.code):
		t.Errorf("message %d: %v: permanent %v ambiguous %v code %d, want %v %v %d", i, o.Err, v.Permanent, o.Ambiguous, o.Code, w.permanent, w.ambiguous, w.code)
	}
}

func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mta      *fakeMTA
		n        int
		want     []want
		sessions int
	}{
		{name: "451 at the end of DATA: retry on the same session", n: 2,
			mta: &fakeMTA{data: func(_ *smtp.Conn, n int) error {
				if n == 0 {
					return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
				}
				return nil
			}},
			want: []want{{code: 451}, {ok: true}}, sessions: 1},
		{name: "421 at MAIL FROM: retry, the next message on a new session", n: 2,
			mta: &fakeMTA{mailFrom: func(n int) error {
				if n == 0 {
					return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "shutting down"}
				}
				return nil
			}},
			want: []want{{code: 421}, {ok: true}}, sessions: 2},
		{name: "550 for one recipient: that delivery fails for good, the rest go", n: 3,
			mta: &fakeMTA{rcpt: func(_ *smtp.Conn, to string) error {
				if to == "reader1@example.net" {
					return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
				}
				return nil
			}},
			want: []want{{ok: true}, {permanent: true, code: 550}, {ok: true}}, sessions: 1},
		{name: "dropped connection after the data: ambiguous, retried", n: 2,
			mta: &fakeMTA{data: func(c *smtp.Conn, n int) error {
				if n == 0 {
					_ = c.Conn().Close()
				}
				return nil
			}},
			want: []want{{ambiguous: true}, {ok: true}}, sessions: 2},
		{name: "dropped connection before the data: a plain retry", n: 2,
			mta: &fakeMTA{rcpt: func(c *smtp.Conn, to string) error {
				if to == "reader0@example.net" {
					_ = c.Conn().Close()
				}
				return nil
			}},
			want: []want{{}, {ok: true}}, sessions: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := transport(t, serve(t, tc.mta), 1, 5*time.Second)
			out := tr.Send(context.Background(), batch(t, tc.n))
			if len(out) != tc.n {
				t.Fatalf("%d outcomes for %d messages", len(out), tc.n)
			}
			for i, w := range tc.want {
				check(t, i, out[i], w)
			}
			if s, _, _ := tc.mta.counts(); s != tc.sessions {
				t.Errorf("%d sessions, want %d", s, tc.sessions)
			}
		})
	}
}

func TestSessionsAreReusedAndBounded(t *testing.T) {
	for _, tc := range []struct{ n, concurrency int }{{20, 1}, {30, 3}} {
		t.Run(strconv.Itoa(tc.concurrency), func(t *testing.T) {
			mta := &fakeMTA{}
			tr := transport(t, serve(t, mta), tc.concurrency, 5*time.Second)
			msgs := batch(t, tc.n)
			for i, o := range tr.Send(context.Background(), msgs) {
				if o.Err != nil || o.ID != msgs[i].ID {
					t.Errorf("message %d: %+v", i, o)
				}
			}
			sessions, maxActive, accepted := mta.counts()
			if accepted != tc.n || sessions > tc.concurrency || maxActive > tc.concurrency || tr.Sessions() != uint64(sessions) {
				t.Errorf("%d accepted over %d sessions (%d at once, transport counted %d); want %d over at most %d",
					accepted, sessions, maxActive, tr.Sessions(), tc.n, tc.concurrency)
			}
			if tc.concurrency == 1 && sessions != 1 {
				t.Errorf("%d sessions for one worker, want 1", sessions)
			}
		})
	}
}

// TestSlowServer: a server that never answers the end of DATA holds the
// batch no longer than the timeout, or the context's deadline.
func TestSlowServer(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	mta := &fakeMTA{data: func(*smtp.Conn, int) error { <-release; return nil }}
	cfg := serve(t, mta)
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		ctx     time.Duration
	}{
		{"the transport's timeout", 300 * time.Millisecond, time.Minute},
		{"the context's deadline", time.Minute, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.ctx)
			defer cancel()
			start := time.Now()
			out := transport(t, cfg, 1, tc.timeout).Send(ctx, batch(t, 2))
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Send took %v: the deadline was not honoured", took)
			}
			check(t, 0, out[0], want{ambiguous: true})
			if out[1].Err == nil {
				t.Errorf("message 1 accepted by a server that never answers")
			}
		})
	}
}

// TestHostileServer: a server that answers with an endless line is cut
// off after a bounded read, long before the timeout.
func TestHostileServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	hungUp := make(chan struct{}) // closed when Outpost closed the connection
	go func() {
		defer close(hungUp)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("220-"))
		chunk := []byte(strings.Repeat("x", 4096))
		for range 64 << 10 { // at most 256 MiB: the test fails long before
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	host, port, _ := net.SplitHostPort(l.Addr().String())
	p, _ := strconv.Atoi(port)
	start := time.Now()
	out := transport(t, SMTPConfig{Host: host, Port: p, TLS: NoTLS}, 1, time.Minute).Send(context.Background(), batch(t, 1))
	if !errors.Is(out[0].Err, errReplyTooLong) || out[0].Ambiguous || notify.Judge(out[0].Err).Permanent {
		t.Errorf("outcome %+v: want a retry for a reply too long", out[0])
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %v", took)
	}
	select { // a session that failed to open leaves no connection behind
	case <-hungUp:
	case <-time.After(10 * time.Second):
		t.Errorf("the connection of a session that failed to open is still open")
	}
}

func TestUnreachableServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr)
	_ = l.Close() // nothing listens there now
	out := transport(t, SMTPConfig{Host: "127.0.0.1", Port: addr.Port, TLS: NoTLS}, 2, 5*time.Second).Send(context.Background(), batch(t, 3))
	for i, o := range out {
		check(t, i, o, want{})
	}
}

// TestRateLimitWithinTheContext: at one message a second, a batch whose
// context ends sooner sends the first and leaves the rest for a retry,
// without waiting them out.
func TestRateLimitWithinTheContext(t *testing.T) {
	mta := &fakeMTA{}
	tr, err := NewTransport(TransportOptions{SMTP: serve(t, mta), Concurrency: 2, RateLimit: 1, Timeout: 5 * time.Second, HELO: "outpost.test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	out := tr.Send(ctx, batch(t, 3))
	var sent int
	for i, o := range out {
		if o.Err == nil {
			sent++
		} else {
			check(t, i, o, want{})
		}
	}
	if _, _, accepted := mta.counts(); sent != 1 || accepted != 1 {
		t.Errorf("%d sent, %d accepted: want 1 within a second", sent, accepted)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %v", took)
	}
}

func TestTransportOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    TransportOptions
		err  string
	}{
		{"no host", TransportOptions{}, "smtp.host is required"},
		{"bad tls", TransportOptions{SMTP: SMTPConfig{Host: "mx", TLS: "ssl"}}, `smtp.tls "ssl"`},
		{"bad port", TransportOptions{SMTP: SMTPConfig{Host: "mx", Port: 70000}}, "smtp.port 70000"},
		{"negative rate", TransportOptions{SMTP: SMTPConfig{Host: "mx"}, RateLimit: -1}, "rate_limit -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewTransport(tc.o); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err %v, want %q", err, tc.err)
			}
		})
	}
}

// BenchmarkSend measures a batch to the in-process server over the
// default two sessions (messages/s, sessions used).
func BenchmarkSend(b *testing.B) {
	mta := &fakeMTA{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := smtp.NewServer(mta)
	srv.Domain = "mx.test"
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	addr := l.Addr().(*net.TCPAddr)
	tr, err := NewTransport(TransportOptions{SMTP: SMTPConfig{Host: "127.0.0.1", Port: addr.Port, TLS: NoTLS}, HELO: "outpost.test"})
	if err != nil {
		b.Fatal(err)
	}
	msgs := batch(b, b.N)
	b.ResetTimer()
	for _, o := range tr.Send(context.Background(), msgs) {
		if o.Err != nil {
			b.Fatal(o.Err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(tr.Sessions()), "sessions")
}
