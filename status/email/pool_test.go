package email

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"
)

// Batches share the transport's sessions: many small batches in flight
// together (a domain's few mails each, as the subscriber loop sends
// them) open at most Concurrency sessions in all, and later batches
// reuse them.
func TestBatchesShareSessions(t *testing.T) {
	const concurrency, batches, per = 2, 12, 3
	mta := &fakeMTA{}
	tr := transport(t, serve(t, mta), concurrency, 5*time.Second)
	defer tr.Close()
	var wg sync.WaitGroup
	for range batches {
		msgs := batch(t, per)
		wg.Go(func() {
			for i, o := range tr.Send(context.Background(), msgs) {
				if o.Err != nil {
					t.Errorf("message %d: %v", i, o.Err)
				}
			}
		})
	}
	wg.Wait()
	for _, o := range tr.Send(context.Background(), batch(t, per)) { // later: the idle ones again
		if o.Err != nil {
			t.Errorf("a later batch: %v", o.Err)
		}
	}
	sessions, maxActive, accepted := mta.counts()
	if accepted != (batches+1)*per || sessions > concurrency || maxActive > concurrency {
		t.Errorf("%d batches of %d: %d accepted over %d sessions, %d at once; want every mail over at most %d sessions",
			batches+1, per, accepted, sessions, maxActive, concurrency)
	}
}

// closingMTA is a fakeMTA whose connections the test can cut, as a
// server does with a session idle too long.
type closingMTA struct {
	*fakeMTA
	mu    sync.Mutex
	conns []*smtp.Conn
}

func (c *closingMTA) NewSession(conn *smtp.Conn) (smtp.Session, error) {
	c.mu.Lock()
	c.conns = append(c.conns, conn)
	c.mu.Unlock()
	return c.fakeMTA.NewSession(conn)
}

func (c *closingMTA) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		_ = conn.Close()
	}
}

// A pooled session the server closed while it was idle costs nothing: the
// next batch's mail goes over a new session, delivered, not retried.
func TestIdleSessionClosedByServer(t *testing.T) {
	fake := &fakeMTA{}
	mta := &closingMTA{fakeMTA: fake}
	tr := transport(t, serveBackend(t, mta), 1, 5*time.Second)
	defer tr.Close()
	for round := range 2 {
		for i, o := range tr.Send(context.Background(), batch(t, 2)) {
			if o.Err != nil {
				t.Fatalf("round %d, message %d: %v (want delivered)", round, i, o.Err)
			}
		}
		mta.cut()
	}
	if sessions, _, accepted := fake.counts(); accepted != 4 || sessions != 2 {
		t.Errorf("%d accepted over %d sessions, want 4 over 2 (one cut while idle)", accepted, sessions)
	}
}

// serveBackend serves any go-smtp backend in clear on a loopback port.
func serveBackend(t *testing.T, b smtp.Backend) SMTPConfig {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(b)
	srv.Domain = "mx.test"
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return SMTPConfig{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, TLS: NoTLS}
}
