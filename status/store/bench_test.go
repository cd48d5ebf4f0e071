package store

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	bolt "go.etcd.io/bbolt"
)

// BenchmarkEngineAndStore pushes results through the real engine and
// durable (fsync'd) store commits, 500 results per transaction (what a
// 100 ms group-commit window holds at 5,000 results/s), over 10,000 checks.
//
//	go test ./status/store -run '^$' -bench EngineAndStore -benchtime 400x
func BenchmarkEngineAndStore(b *testing.B) {
	const checks, perBatch = 10000, 500
	m := &status.Model{AutoIncidents: true, ReopenWindow: time.Minute}
	for i := range checks / 10 {
		m.Components = append(m.Components, status.ComponentDef{ID: fmt.Sprintf("c%d", i), Name: fmt.Sprintf("C%d", i)})
	}
	for i := range checks {
		m.Checks = append(m.Checks, status.CheckDef{Name: fmt.Sprintf("check-%05d", i), Component: fmt.Sprintf("c%d", i/10),
			FailureThreshold: 3, SuccessThreshold: 2, RecheckInterval: 2 * time.Second, Every: 30 * time.Second})
	}
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	e := status.NewEngine(m, nil)
	now := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	next := 0
	batch := func() status.Batch {
		bt := status.Batch{Now: now}
		for range perBatch {
			o := probes.Up
			if next%97 == 0 { // a sprinkle of failures keeps the engine honest
				o = probes.Down
			}
			bt.Results = append(bt.Results, status.CheckResult{Check: m.Checks[next%checks].Name, At: now,
				Result: probes.Result{Outcome: o, Reason: probes.ReasonOK, Latency: time.Duration(1000+next%5000) * time.Microsecond}})
			next++
			now = now.Add(3 * time.Millisecond) // 10,000 checks every 30 s
		}
		return bt
	}
	// Warm up: every check has state and roll-up series.
	for range checks / perBatch {
		bt := batch()
		if err := step(s, e.Apply(bt), e.State(), nil, bt.Now); err != nil {
			b.Fatal(err)
		}
	}
	size0 := usedBytes(b, s)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		bt := batch()
		t := time.Now()
		ch := e.Apply(bt)
		if err := step(s, ch, e.State(), nil, bt.Now); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	wall := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	results := float64(b.N * perBatch)
	b.ReportMetric(results/wall.Seconds(), "results/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "commit-p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "commit-p99-ms")
	if grown := usedBytes(b, s) - size0; grown > 0 {
		b.ReportMetric(float64(grown)/results, "file-bytes/result")
	}
}

// usedBytes is the size of the pages the file uses (the benchmark's
// growth per result).
func usedBytes(tb testing.TB, s *Store) int64 {
	tb.Helper()
	var n int64
	if err := s.view(func(tx *bolt.Tx) error { n = tx.Size(); return nil }); err != nil {
		tb.Fatal(err)
	}
	return n
}

// BenchmarkDeliveryJobsEmail reads what one round of the email loop takes:
// 256 open mails of one incident event (whose stored webhook data object
// is 8 KiB) for 300 confirmed subscribers. Mails have no stored webhook
// body: the event's lookup in wh_events misses once per read without
// decoding anything, and the outbox row is decoded once per event per
// read; skipping that lookup for mails saved 2 of 8,249 allocations (72
// of 630,570 bytes) per read, so it stays. The cost is decoding each
// delivery and its subscriber (about 32 allocations a job).
//
//	go test ./status/store -run '^$' -bench DeliveryJobsEmail -benchmem -benchtime 300x
func BenchmarkDeliveryJobsEmail(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const subs = 300
	var ids []string
	for i := range subs {
		sub := emailSub(fmt.Sprintf("em_%04d", i), fmt.Sprintf("r%d@d%d.example", i, i%100), fmt.Sprintf("t-%d", i), nil, false)
		mustApply(b, s, Entry{At: t0, Subscribe: &NewSubscription{Sub: sub}})
		mustApply(b, s, Entry{At: t0, Confirm: &Confirmation{TokenHash: HashToken(fmt.Sprintf("t-%d", i))}})
		ids = append(ids, sub.ID)
	}
	data := []byte(`{"page":{"id":"acme"},"incident":{"name":"` + strings.Repeat("x", 8<<10) + `"}}`)
	ev := status.Event{ID: "evt-1", Type: status.IncidentCreated, Incident: &status.Incident{ID: "inc-1", Components: []string{"api"}}, Data: data}
	seq := announce(b, s, ev, []Dest{{Name: EmailDest}}, t0)
	mustApply(b, s, Entry{At: t0, Fanout: []FannedRow{{Seq: seq, Dest: EmailDest, Subs: ids}}})
	refs, err := s.OpenDeliveries(KindEmail, 0, 256)
	if err != nil || len(refs) != 256 {
		b.Fatalf("%d open mails (%v)", len(refs), err)
	}
	seqs := make([]uint64, len(refs))
	for i, r := range refs {
		seqs[i] = r.Seq
	}
	b.ResetTimer()
	for range b.N {
		jobs, err := s.DeliveryJobs(seqs)
		if err != nil || len(jobs) != 256 || jobs[0].Event == nil {
			b.Fatalf("%d jobs (%v)", len(jobs), err)
		}
	}
}
