package mtatest

import (
	"fmt"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

const smtpSourceBin = "/usr/sbin/smtp-source"

// SMTPSourceSessions is how many SMTP sessions SMTPSource keeps open at
// once: one smtp-source process per recipient domain, this many at a time.
const SMTPSourceSessions = 8

// SMTPSource sends n messages of size bytes of body to the server with
// Postfix's own load generator, smtp-source, spread evenly over domains,
// and returns how long it took until the server had accepted (queued to
// disk) every one. It is the baseline a benchmark of our sender is
// compared with. Each domain gets one session that sends all of its
// messages (-d, as a sender reusing its connection per domain would),
// each to a different recipient (-N numbers them).
func (s *Server) SMTPSource(t testing.TB, n int, domains []string, size int) time.Duration {
	t.Helper()
	if len(domains) == 0 || n < len(domains) {
		t.Fatalf("mtatest: SMTPSource needs at least one message for each of %d domains, got %d", len(domains), n)
	}
	jobs := make(chan *exec.Cmd, len(domains))
	for i, d := range domains {
		count := n / len(domains)
		if i < n%len(domains) {
			count++
		}
		jobs <- exec.Command(smtpSourceBin, "-4", "-d", "-N", "-s", "1",
			"-m", strconv.Itoa(count), "-l", strconv.Itoa(size),
			"-M", "source.outpost.test", "-f", "bench@source.outpost.test",
			"-t", "user@"+d, s.addr)
	}
	close(jobs)
	start := time.Now()
	errs := make(chan error, len(domains))
	var wg sync.WaitGroup
	for range min(SMTPSourceSessions, len(domains)) {
		wg.Go(func() {
			for cmd := range jobs {
				if out, err := cmd.CombinedOutput(); err != nil {
					errs <- fmt.Errorf("%v: %w: %s", cmd.Args, err, out)
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	for err := range errs {
		t.Errorf("mtatest: smtp-source: %v", err)
	}
	if t.Failed() {
		t.FailNow()
	}
	return took
}
