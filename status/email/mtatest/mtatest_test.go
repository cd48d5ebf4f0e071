package mtatest

import (
	"fmt"
	"net"
	"net/smtp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// send hands one message to addr with net/smtp, as any client would.
func send(t *testing.T, addr, from, to, subject, body string) {
	t.Helper()
	msg := "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + subject + "@outpost.test>\r\n\r\n" + body + "\r\n"
	if err := smtp.SendMail(addr, nil, from, []string{to}, []byte(msg)); err != nil {
		t.Fatalf("send to %s: %v", to, err)
	}
}

// A message sent with net/smtp comes back from the Maildir with its
// headers, its body and the envelope recipient Postfix delivered it to.
func TestDeliversToMaildir(t *testing.T) {
	t.Parallel() // instances share nothing, so tests may run side by side
	s := Start(t)
	send(t, s.Addr(), "status@outpost.test", "ada@example.com", "hello", "Public API is unavailable.")
	msgs := s.WaitFor(t, 1, 20*time.Second)
	m := msgs[0]
	if got := m.Header.Get("Subject"); got != "hello" {
		t.Errorf("Subject = %q, want hello", got)
	}
	if got := m.Header.Get("Message-ID"); got != "<hello@outpost.test>" {
		t.Errorf("Message-ID = %q", got)
	}
	if got := m.Recipient(); got != "ada@example.com" {
		t.Errorf("Recipient() = %q, want ada@example.com", got)
	}
	if !strings.Contains(string(m.Body), "Public API is unavailable.") {
		t.Errorf("body = %q", m.Body)
	}
	if !strings.Contains(string(m.Raw), "Received: from") {
		t.Errorf("raw message has no Received header, so it did not pass through Postfix:\n%s", m.Raw)
	}
}

// Any recipient domain is accepted and delivered: three domains, three
// messages, each to its own recipient.
func TestAcceptsAnyDomain(t *testing.T) {
	t.Parallel()
	s := Start(t)
	want := map[string]bool{}
	for i, d := range []string{"example.com", "example.org", "mail.example.net"} {
		to := fmt.Sprintf("user%d@%s", i, d)
		want[to] = true
		send(t, s.Addr(), "status@outpost.test", to, fmt.Sprintf("m%d", i), "x")
	}
	for _, m := range s.WaitFor(t, 3, 20*time.Second) {
		if !want[m.Recipient()] {
			t.Errorf("unexpected recipient %q", m.Recipient())
		}
		delete(want, m.Recipient())
	}
	if len(want) != 0 {
		t.Errorf("not delivered: %v", want)
	}
}

// After cleanup the instance is gone: its port refuses connections.
func TestStopsOnCleanup(t *testing.T) {
	var addr string
	t.Run("server", func(t *testing.T) {
		addr = Start(t).Addr()
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatalf("dial running instance: %v", err)
		}
		c.Close()
	})
	if addr == "" {
		t.Fatal("subtest did not start a server")
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after cleanup", addr)
	}
}

// WaitFor fails with what it saw when the messages never come.
func TestWaitForTimesOut(t *testing.T) {
	s := Start(t)
	ft := &fakeT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.WaitFor(ft, 1, 200*time.Millisecond)
	}()
	<-done
	if !ft.failed || !strings.Contains(ft.msg, "0 of 1") {
		t.Fatalf("WaitFor on an empty Maildir: failed=%v msg=%q", ft.failed, ft.msg)
	}
}

// smtp-source, Postfix's own load generator, delivers to every domain.
func TestSMTPSource(t *testing.T) {
	t.Parallel()
	s := Start(t)
	domains := []string{"a.example", "b.example", "c.example"}
	took := s.SMTPSource(t, 30, domains, 512)
	if took <= 0 {
		t.Fatalf("SMTPSource took %v", took)
	}
	seen := map[string]int{}
	for _, m := range s.WaitFor(t, 30, 30*time.Second) {
		_, d, _ := strings.Cut(m.Recipient(), "@")
		seen[d]++
	}
	for _, d := range domains {
		if seen[d] != 10 {
			t.Errorf("domain %s got %d messages, want 10 (all: %v)", d, seen[d], seen)
		}
	}
}

// fakeT records a Fatalf and ends the goroutine, as testing.T does.
type fakeT struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeT) Helper() {}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = true
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// The baseline on its own: smtp-source sends 1,000 messages of 2 KiB to
// 10 domains, every one accepted and queued to disk by the instance.
// go test ./status/email/mtatest -run '^$' -bench SMTPSource -benchtime 1x
func BenchmarkSMTPSource(b *testing.B) {
	s := Start(b)
	domains := make([]string, 10)
	for i := range domains {
		domains[i] = fmt.Sprintf("d%d.example", i)
	}
	const n = 1000
	var took time.Duration
	for b.Loop() {
		took += s.SMTPSource(b, n, domains, 2048)
	}
	b.ReportMetric(float64(n*b.N)/took.Seconds(), "msgs/s")
	b.ReportMetric(took.Seconds()/float64(b.N), "s/1000msgs")
}

// Start-up until the first SMTP greeting; teardown is not timed.
// go test ./status/email/mtatest -run '^$' -bench 'Start$' -benchtime 5x
func BenchmarkStart(b *testing.B) {
	for b.Loop() {
		s := Start(b)
		b.StopTimer()
		if err := s.stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
