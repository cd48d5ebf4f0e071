package store

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
)

// BenchmarkAgedRollups applies a monitor's entries (100 results of
// name-neighbour checks, a second of 3,000 checks at 30 s, as
// probes.spread orders them) with durable commits to a file that has kept
// 30 days of hourly and 400 days of daily roll-ups per check: codec 2
// (each result into its check's two series) against codec 3 (through the
// open roll-ups). The aged file is built once and copied for each run.
//
//	go test ./status/store -run '^$' -bench AgedRollups -benchtime 300x
func BenchmarkAgedRollups(b *testing.B) {
	const checks = 3000
	names := make([]string, checks)
	for i := range names {
		names[i] = fmt.Sprintf("check-%05d", i)
	}
	start := time.Date(2026, 3, 10, 0, 10, 0, 0, time.UTC)
	aged := filepath.Join(b.TempDir(), "aged.db")
	s, err := Open(aged, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	ageRollups(b, s, names, start)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	for _, codec := range []int{2, 3} {
		b.Run(fmt.Sprintf("codec=%d", codec), func(b *testing.B) { benchAged(b, aged, names, start, codec) })
	}
}

func benchAged(b *testing.B, aged string, names []string, at time.Time, codec int) {
	path := filepath.Join(b.TempDir(), "bench.db")
	copyFile(b, aged, path)
	s, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	next := 0
	entry := func() Entry {
		rs := make([]Input, 0, 100)
		for range 100 {
			at = at.Add(10 * time.Millisecond)
			rs = append(rs, Input{Check: names[next%len(names)], At: at, Outcome: probes.Up, Reason: probes.ReasonOK,
				Latency: time.Duration(1000+next%5000) * time.Microsecond})
			next++
		}
		return Entry{At: at, Codec: codec, Step: &Step{Results: rs}}
	}
	for range len(names) / 100 { // every check has run in this hour
		mustApply(b, s, entry())
	}
	writes := func() int64 { st := s.db.Stats(); return st.TxStats.GetWrite() }
	before := writes()
	b.ResetTimer()
	t := time.Now()
	for range b.N {
		mustApply(b, s, entry())
	}
	wall := time.Since(t)
	b.StopTimer()
	b.ReportMetric(float64(wall.Microseconds())/1000/float64(b.N), "ms/entry")
	b.ReportMetric(float64(writes()-before)/float64(b.N), "pages/entry")
}

func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	in, err := os.Open(from)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
}
