package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/store"
)

// BenchmarkFanout1000 measures one incident reaching 1,000 verified
// subscriptions: spread over 100 loopback receivers (10 per host), and all
// on one (where the default limit of 4 in flight per host is the bound).
// It times the event's commit to the last delivery recorded as sent, on a
// real bbolt file with fsync. docs/benchmarks.md has figures.
func BenchmarkFanout1000(b *testing.B) {
	for _, shape := range []struct{ hosts, perHost int }{{100, 10}, {1, 1000}} {
		b.Run(fmt.Sprintf("hosts=%d", shape.hosts), func(b *testing.B) { fanout(b, shape.hosts, shape.perHost) })
	}
}

// fanout is one incident to hosts×perHost subscriptions.
func fanout(b *testing.B, hosts, perHost int) {
	st, err := store.Open(filepath.Join(b.TempDir(), "outpost.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc := New(Options{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AllowHTTP: true, AllowPrivate: true,
		PerClient: -1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	var rcvs []*receiver
	for h := range hosts {
		r := newReceiver(b, nil)
		rcvs = append(rcvs, r)
		for i := range perHost {
			path := fmt.Sprintf("/hooks/%d", i)
			c, err := svc.Subscribe(Request{URL: r.srv.URL + path}, fmt.Sprintf("client-%d-%d", h, i))
			if err != nil {
				b.Fatal(err)
			}
			r.addPathSecret(path, c.Secret)
		}
	}
	waitBench(b, 60*time.Second, "1,000 subscriptions verified", func() bool {
		subs, _ := st.Subscriptions()
		n := 0
		for _, s := range subs {
			if s.State == store.SubActive {
				n++
			}
		}
		return n == hosts*perHost
	})

	b.ResetTimer()
	var total time.Duration
	for i := range b.N {
		ev := incidentEvent(fmt.Sprintf("evt-bench-%d", i), "api")
		ev.At = time.Now()
		ev.Data = json.RawMessage(`{"page":{"id":"bench","status_indicator":"major"},"incident":{"id":"inc-` + ev.ID + `"}}`)
		start := time.Now()
		if _, err := st.Apply(store.Entry{At: start, Announce: []store.Announcement{{Event: ev, Dests: []store.Dest{{Name: store.WebhooksDest}}}}}); err != nil {
			b.Fatal(err)
		}
		svc.Wake()
		waitBench(b, 60*time.Second, "every delivery sent", func() bool {
			for _, r := range rcvs {
				if r.delivered.Load() < int64((i+1)*perHost) {
					return false
				}
			}
			open, err := st.OpenDeliveries(store.KindWebhook, 0, 1)
			return err == nil && len(open) == 0
		})
		total += time.Since(start)
	}
	b.StopTimer()
	per := total / time.Duration(b.N)
	b.ReportMetric(float64(per.Milliseconds()), "ms/fanout")
	b.ReportMetric(float64(hosts*perHost)/per.Seconds(), "deliveries/s")
	for _, r := range rcvs {
		if r.rejected.Load() != 0 {
			b.Fatalf("%d deliveries failed signature checks", r.rejected.Load())
		}
	}
}

func waitBench(b *testing.B, d time.Duration, what string, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
