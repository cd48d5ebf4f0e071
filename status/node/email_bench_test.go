package node

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/email"
	"github.com/outpost-status/outpost/status/email/mtatest"
	"github.com/outpost-status/outpost/status/store"
)

// BenchmarkEmailFanout is the performance figure: confirmed email
// subscribers spread over 100 recipient domains and one incident, through
// the node's own email wiring (emailLoop: the real Fanout entry, the one
// subscriber loop, email.Sender composing each mail with its signed
// links, the SMTP transport) into a private Postfix that queues every
// mail to disk, measured until every delivery's outcome is committed
// (Postfix has answered 250 to each mail's data: queued to disk). In the
// same run, the same Postfix takes as many messages of the same size
// from its own smtp-source: the baseline. Postfix delivers both into its
// Maildir; the wait for that is reported apart (maildir_s).
//
//	go test ./status/node -run '^$' -bench 'EmailFanout/subscribers=1000$' -benchtime 1x
//	go test ./status/node -run '^$' -bench 'EmailFanout/subscribers=10000$' -benchtime 1x
//
// The subscribers' data file is made once and kept in the temporary
// folder (outpost-bench-email-N.db; at 10,000 making it takes minutes).
//
// It needs root and Debian's postfix (mtatest), and is skipped without.
func BenchmarkEmailFanout(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, conc := range []int{0, mtatest.SMTPSourceSessions} {
			name := fmt.Sprintf("subscribers=%d", n)
			if conc != 0 {
				name = fmt.Sprintf("subscribers=%d/concurrency=%d", n, conc)
			}
			b.Run(name, func(b *testing.B) {
				for range b.N {
					benchEmailFanout(b, n, conc)
				}
			})
		}
	}
}

// benchDomains is how many recipient domains the subscribers use.
const benchDomains = 100

func benchEmailFanout(b *testing.B, n, concurrency int) {
	b.StopTimer()
	mta := mtatest.Start(b)
	dir := b.TempDir()
	path := filepath.Join(dir, "outpost.db")
	seedEmailSubscribers(b, path, n)
	st, err := store.Open(path, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()

	host, port, _ := strings.Cut(mta.Addr(), ":")
	p, _ := strconv.Atoi(port)
	o := &email.Config{From: "Acme Status <status@example.com>", Concurrency: concurrency,
		SMTP: email.SMTPConfig{Host: host, Port: p, TLS: email.NoTLS}}
	cfg := &config.Config{Site: config.Site{Title: "Acme Status", URL: "https://status.example.com", Location: time.UTC}}
	var delivered, failed, retried atomic.Int64
	observe := func(_, label string) {
		switch label {
		case "delivered":
			delivered.Add(1)
		case "failed":
			failed.Add(1)
		case "retry":
			retried.Add(1)
		}
	}
	quiet := slog.New(slog.DiscardHandler)
	loop, _, err := emailLoop(cfg, o, nil, st, st, time.Now, quiet, observe)
	if err != nil {
		b.Fatal(err)
	}
	ev := benchIncident()
	size := benchMailSize(b, cfg, o, st, ev)
	domains := make([]string, benchDomains)
	for i := range domains {
		domains[i] = fmt.Sprintf("d%03d.example", i)
	}

	baseline := mta.SMTPSource(b, n, domains, size)
	waitMaildir(b, mta, n)
	before := mtaSessions(b, mta)

	// What setup allocated (subscribers, the mail log) is given back
	// first, so the growth measured is the run's.
	runtime.GC()
	debug.FreeOSMemory()
	startRSS := resetPeakRSS(b)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.StartTimer()
	start := time.Now()
	if _, err := st.Apply(store.Entry{At: start, Announce: []store.Announcement{{Event: ev, Dests: []store.Dest{{Name: store.EmailDest}}}}}); err != nil {
		b.Fatal(err)
	}
	wg.Go(func() { loop.Run(ctx) })
	for deadline := start.Add(10 * time.Minute); delivered.Load()+failed.Load() < int64(n); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) || retried.Load() > 0 {
			cancel()
			wg.Wait()
			b.Fatalf("after %v: %d delivered, %d failed, %d retried of %d", time.Since(start), delivered.Load(), failed.Load(), retried.Load(), n)
		}
	}
	took := time.Since(start)
	b.StopTimer()
	peak := peakRSS(b)
	cancel()
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%d of %d mails failed", failed.Load(), n)
	}
	waitMaildir(b, mta, 2*n)
	inMaildir := time.Since(start)

	sessions := mtaSessions(b, mta) - before
	b.ReportMetric(took.Seconds(), "outpost_s")
	b.ReportMetric(float64(n)/took.Seconds(), "msgs/s")
	b.ReportMetric(baseline.Seconds(), "baseline_s")
	b.ReportMetric(took.Seconds()/baseline.Seconds(), "ratio")
	b.ReportMetric(float64(sessions), "sessions")
	b.ReportMetric(float64(peak-startRSS)/(1<<20), "rss_growth_MiB")
	b.ReportMetric(inMaildir.Seconds(), "maildir_s")
	b.ReportMetric(float64(size), "mail_bytes")
}

// seedEmailSubscribers puts a data file with n confirmed email
// subscribers at path: a copy of the one made by the first run, kept in
// the temporary folder, since making it takes minutes at 10,000 (each
// Subscribe and Confirm entry reads every subscriber to find the address
// or the token's hash).
func seedEmailSubscribers(b *testing.B, path string, n int) {
	b.Helper()
	cached := filepath.Join(os.TempDir(), fmt.Sprintf("outpost-bench-email-%d.db", n))
	if _, err := os.Stat(cached); err != nil {
		tmp := cached + ".part"
		_ = os.Remove(tmp)
		makeEmailSubscribers(b, tmp, n)
		if err := os.Rename(tmp, cached); err != nil {
			b.Fatal(err)
		}
	}
	data, err := os.ReadFile(cached)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
}

// makeEmailSubscribers writes n confirmed email subscribers, round robin
// over benchDomains domains, and the site key, through the log, without
// fsync (the file is closed, so synced, before it is used).
func makeEmailSubscribers(b *testing.B, path string, n int) {
	b.Helper()
	st, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	if err := ensureSiteKey(st, st, now, slog.New(slog.DiscardHandler)); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		tok := fmt.Sprintf("tok-%d", i)
		// Ids count down: the Confirm entry looks the token up in id
		// order, so the newest subscriber is its first row, not its last.
		sub := store.Subscription{ID: fmt.Sprintf("em_%05d", n-1-i), Kind: store.KindEmail,
			Address:     fmt.Sprintf("reader%d@d%03d.example", i, i%benchDomains),
			ConfirmHash: store.HashToken(tok), ConfirmUntil: now.Add(time.Hour), CreatedAt: now, StateAt: now}
		for _, e := range []store.Entry{
			{At: now, Subscribe: &store.NewSubscription{Sub: sub}},
			{At: now, Confirm: &store.Confirmation{TokenHash: store.HashToken(tok)}},
		} {
			if _, err := st.Apply(e); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// benchIncident is the one incident every subscriber hears of.
func benchIncident() status.Event {
	at := time.Now()
	up := status.Update{ID: "upd-1", Status: status.Investigating, Body: "We are looking into elevated error rates on the public API.", DisplayAt: at}
	inc := &status.Incident{ID: "inc-1", Name: "Public API is unavailable", Status: status.Investigating, Impact: status.ImpactMajor,
		Components: []string{"api"}, StartedAt: at, CreatedAt: at, Updates: []status.Update{up}}
	return status.Event{ID: "evt-bench-1", Type: status.IncidentCreated, At: at, Incident: inc, Update: &inc.Updates[0]}
}

// benchMailSize is the size of one subscriber's mail of ev, as the loop
// composes it: the baseline sends messages of this size.
func benchMailSize(b *testing.B, cfg *config.Config, o *email.Config, st *store.Store, ev status.Event) int {
	b.Helper()
	comp, err := email.NewComposer(email.Options{Site: email.Site{Title: cfg.Site.Title, URL: cfg.Site.URL, Location: cfg.Site.Location}, From: o.From})
	if err != nil {
		b.Fatal(err)
	}
	sub, err := st.Subscription("em_00000")
	if err != nil {
		b.Fatal(err)
	}
	manage, unsubscribe, err := email.CapabilityLinks{SiteURL: cfg.Site.URL, Keys: st}.For(sub)
	if err != nil {
		b.Fatal(err)
	}
	m, err := comp.Incident(email.Incident{Event: ev, To: email.Subscriber{ID: sub.ID, Address: sub.Address}, Manage: manage, Unsubscribe: unsubscribe})
	if err != nil {
		b.Fatal(err)
	}
	var w strings.Builder
	if _, err := m.WriteTo(&w); err != nil {
		b.Fatal(err)
	}
	return w.Len()
}

// resetPeakRSS resets the process's peak resident size (VmHWM) to its
// current size and returns that size in bytes: what the measured part
// adds is then VmHWM minus it, whatever setup peaked at before.
func resetPeakRSS(b *testing.B) int64 {
	b.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Fatalf("reset VmHWM: %v", err)
	}
	return procStatus(b, "VmRSS:")
}

// peakRSS is VmHWM in bytes.
func peakRSS(b *testing.B) int64 { return procStatus(b, "VmHWM:") }

func procStatus(b *testing.B, key string) int64 {
	b.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("%s %q: %v", key, rest, err)
			}
			return kib << 10
		}
	}
	b.Fatalf("no %s in /proc/self/status", key)
	return 0
}

// waitMaildir waits until the Maildir holds n mails, counting files only
// (reading 10,000 mails would weigh on the memory measured next).
func waitMaildir(b *testing.B, mta *mtatest.Server, n int) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		got, err := mta.Count()
		switch {
		case err != nil:
			b.Fatal(err)
		case got >= n:
			return
		case time.Now().After(deadline):
			b.Fatalf("the Maildir holds %d mails after 10 minutes, want %d", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mtaSessions(b *testing.B, mta *mtatest.Server) int {
	b.Helper()
	n, err := mta.Sessions()
	if err != nil {
		b.Fatal(err)
	}
	return n
}
