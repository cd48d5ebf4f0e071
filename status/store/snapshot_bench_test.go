package store

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
)

// BenchmarkSnapshotRestore takes a snapshot of a store with 10,000 checks
// (1,000 components) and 90 simulated days of roll-ups, and installs it
// in another store: the snapshot's size, the time to take it (to a file)
// and the time to install it (Restore: received, synced, checked,
// swapped). The file is built once through entries (a result per check
// per hour for the last 30 days, the hourly roll-ups' retention, and per
// day before that; a segment per component per day; pruned as a node
// prunes) and kept in the system's temp folder for the next run.
//
//	go test ./status/store -run '^$' -bench SnapshotRestore -benchtime 3x
func BenchmarkSnapshotRestore(b *testing.B) {
	src, err := Open(snapshotBenchFile(b), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dir := b.TempDir()
	dst, err := Open(filepath.Join(dir, "data", "outpost.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer dst.Close()
	var take, install time.Duration
	var size int64
	b.ResetTimer()
	for range b.N {
		path := filepath.Join(dir, "snapshot")
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		info, err := src.Snapshot(f)
		if err == nil {
			err = f.Sync()
		}
		take += time.Since(start)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		size = info.Size
		f, err = os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		err = dst.Restore(f)
		install += time.Since(start)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(size)/(1<<20), "snapshot-MiB")
	b.ReportMetric(take.Seconds()/float64(b.N), "take-s")
	b.ReportMetric(install.Seconds()/float64(b.N), "install-s")
}

// snapshotBenchFile is the benchmark's source file, built when missing.
func snapshotBenchFile(b *testing.B) string {
	const layout = 1 // bump when the file's layout changes
	path := filepath.Join(os.TempDir(), fmt.Sprintf("outpost-bench-snapshot-v%d-s%d.db", layout, SchemaVersion))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tmp := path + ".building"
	os.Remove(tmp)
	s, err := Open(tmp, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	buildNinetyDays(b, s)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %s in %s", path, time.Since(start).Round(time.Second))
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// buildNinetyDays applies 90 days of steps and prunes to s.
func buildNinetyDays(b *testing.B, s *Store) {
	const checks, components, days = 10000, 1000, 90
	end := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	first := end.Add(-days * 24 * time.Hour)
	index := uint64(0)
	apply := func(e Entry) {
		index++
		e.Index = index
		if _, err := s.Apply(e); err != nil {
			b.Fatalf("entry %d: %v", index, err)
		}
	}
	steps := func(at time.Time, withState bool) *Step {
		st := &Step{Results: make([]Input, checks), Engine: engineMeta{Seq: index, WatchingSince: first}}
		for i := range checks {
			name := fmt.Sprintf("check-%05d", i)
			st.Results[i] = Input{Check: name, At: at.Add(time.Duration(i) * time.Millisecond), Outcome: probes.Up,
				Reason: probes.ReasonOK, Latency: time.Duration(1000+i%5000) * time.Microsecond}
			if withState {
				st.Checks = append(st.Checks, NamedCheckState{name, &status.CheckState{Status: status.CheckUp, Since: first}})
			}
		}
		return st
	}
	for d := range days {
		day := first.Add(time.Duration(d) * 24 * time.Hour)
		hours := 1 // before the hourly retention only the day's roll-up stays
		if d >= days-30 {
			hours = 24
		}
		for h := range hours {
			at := day.Add(time.Duration(h)*time.Hour + 30*time.Minute)
			st := steps(at, d == 0 && h == 0)
			if h == 0 {
				for c := range components {
					id := fmt.Sprintf("c%d", c)
					st.Segments = append(st.Segments, status.Segment{Component: id, Status: status.Operational, From: day, To: day.Add(24 * time.Hour)})
					if d == 0 {
						st.Components = append(st.Components, NamedComponentState{id, &status.ComponentState{Status: status.Operational, Since: first}})
					}
				}
			}
			apply(Entry{At: at, Step: st})
		}
		apply(Entry{At: day.Add(24 * time.Hour), Prune: &Prune{RawRetention: 48 * time.Hour, Budget: 1 << 30}})
	}
}
