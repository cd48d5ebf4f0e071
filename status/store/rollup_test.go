package store

import (
	"fmt"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/probes"
)

// ageRollups gives each check 30 days of hourly and 400 days of daily
// roll-ups before at, written directly in one transaction (what a node
// that has kept its history holds): each series is then several pages.
func ageRollups(tb testing.TB, s *Store, names []string, at time.Time) {
	tb.Helper()
	var ru CheckRollup
	ru.add(probes.Result{Outcome: probes.Up, Latency: time.Millisecond})
	v := ru.encode()
	err := s.update(func(tx *bolt.Tx) error {
		for _, name := range names {
			for _, p := range []struct {
				bucket []byte
				size   time.Duration
				n      int
			}{{bucketHourly, time.Hour, 720}, {bucketDaily, 24 * time.Hour, 400}} {
				b, err := tx.Bucket(p.bucket).CreateBucketIfNotExists(checkSeries(name))
				if err != nil {
					return err
				}
				b.FillPercent = 1 // appended in order, as time writes them
				start := at.UTC().Truncate(p.size)
				for i := p.n; i > 0; i-- {
					if err := b.Put(timeKey(start.Add(-time.Duration(i)*p.size)), v); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// On a file that has kept its roll-ups, an entry of 100 results of
// name-neighbour checks in the open hour writes a few pages of the open
// roll-ups, not the hourly and daily series' pages of each check.
func TestRollupsOfAnEntryWriteFewPages(t *testing.T) {
	s, _ := openTemp(t)
	const checks = 300
	names := make([]string, checks)
	for i := range names {
		names[i] = fmt.Sprintf("check-%04d", i)
	}
	at := t0.Truncate(time.Hour).Add(time.Minute)
	ageRollups(t, s, names, at)
	entry := func(from, n int) Entry {
		var rs []Input
		for i := from; i < from+n; i++ {
			at = at.Add(10 * time.Millisecond)
			rs = append(rs, Input{Check: names[i], At: at, Outcome: probes.Up, Latency: time.Millisecond})
		}
		return Entry{At: at, Step: &Step{Results: rs}}
	}
	mustApply(t, s, entry(0, checks)) // every check has run in this hour
	writes := func() int64 { st := s.db.Stats(); return st.TxStats.GetWrite() }
	before := writes()
	mustApply(t, s, entry(100, 100))
	n := writes() - before
	t.Logf("%d pages written", n)
	if n > 30 {
		t.Errorf("100 results of neighbouring checks wrote %d pages of the replicated file, want at most 30", n)
	}
	hours, err := s.CheckRollups(names[150], false, at.Truncate(time.Hour).Add(-time.Hour), at.Add(time.Hour))
	if err != nil || len(hours) != 2 || hours[1].Runs != 2 || !hours[1].Start.Equal(at.Truncate(time.Hour)) {
		t.Errorf("hours around the last result: %+v (%v), want the aged hour and 2 runs in this one", hours, err)
	}
}

// Prune forgets open roll-ups past retention within its budget.
func TestPruneForgetsOpenRollupsWithinBudget(t *testing.T) {
	s, _ := openTemp(t)
	var rs []Input
	for _, name := range []string{"a", "b", "c"} {
		rs = append(rs, Input{Check: name, At: t0, Outcome: probes.Up, Latency: time.Millisecond})
	}
	mustApply(t, s, Entry{At: t0, Step: &Step{Results: rs}})
	open := func() int {
		all, err := s.Contents()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for k := range all {
			if strings.HasPrefix(k, "open_rollups/c:") {
				n++
			}
		}
		return n
	}
	if n := open(); n != 3 {
		t.Fatalf("%d open roll-ups, want 3", n)
	}
	// An hour past retention, its day not: the records stay.
	mustApply(t, s, Entry{At: t0.Add(HourlyRetention + 2*time.Hour), Prune: &Prune{Budget: 2}})
	if n := open(); n != 3 {
		t.Errorf("%d open roll-ups once their hours passed retention, want 3 (their days)", n)
	}
	if hours, err := s.CheckRollups("a", false, time.Time{}, t0.Add(time.Hour)); err != nil || len(hours) != 0 {
		t.Errorf("hours past retention: %+v (%v)", hours, err)
	}
	later := t0.Add(DailyRetention + 48*time.Hour)
	for _, want := range []int{1, 0} {
		mustApply(t, s, Entry{At: later, Prune: &Prune{Budget: 2}})
		if n := open(); n != want {
			t.Errorf("%d open roll-ups after a prune of budget 2, want %d", n, want)
		}
	}
}

// ChecksRollups reads in one transaction what CheckRollups reads a check
// at a time, one check's after another's in the order of the names, after
// what out held: the stored series with the open hour or day in its place,
// nothing for a check without roll-ups.
func TestChecksRollupsIsCheckRollups(t *testing.T) {
	s, _ := openTemp(t)
	names := []string{"check-0", "check-1", "check-2", "never-ran"}
	at := t0.Truncate(time.Hour).Add(time.Minute)
	ageRollups(t, s, names[:2], at)
	mustApply(t, s, Entry{At: at, Step: &Step{Results: []Input{
		{Check: "check-0", At: at, Outcome: probes.Down, Latency: 3 * time.Millisecond},
		{Check: "check-2", At: at, Outcome: probes.Up, Latency: 2 * time.Millisecond}}}})
	for _, daily := range []bool{false, true} {
		from, to := at.Add(-72*time.Hour), at.Add(time.Hour)
		held := []CheckRollup{{Runs: 99}}
		got, err := s.ChecksRollups(names, daily, from, to, held)
		if err != nil {
			t.Fatal(err)
		}
		want := []CheckRollup{{Runs: 99}}
		for _, name := range names {
			one, err := s.CheckRollups(name, daily, from, to)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, one...)
		}
		if len(want) < 7 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("daily %v: %d roll-ups\n%v\nCheckRollups one by one: %d\n%v", daily, len(got), got, len(want), want)
		}
	}
}
