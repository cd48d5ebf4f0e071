package monitor

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
)

// Which reports are urgent: anything not up, the ups after a failure that
// recovery counts, a confirmation round's answer; an up after ups is
// routine (also a check's first, after a restart).
func TestUrgentReports(t *testing.T) {
	rep := func(check string, o probes.Outcome, recheck bool) probes.Report {
		return probes.Report{Check: check, Result: probes.Result{Outcome: o}, Recheck: recheck}
	}
	type step struct {
		r    probes.Report
		want bool
	}
	ups := func(check string, n int, want bool) []step {
		s := make([]step, n)
		for i := range s {
			s[i] = step{rep(check, probes.Up, false), want}
		}
		return s
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"steady ups", ups("a", 3, false)},
		{"a failure", append(ups("a", 2, false), step{rep("a", probes.Down, false), true}, step{rep("a", probes.Down, false), true})},
		{"degraded", []step{{rep("a", probes.Degraded, false), true}}},
		{"recovery counted, then routine", append(append([]step{{rep("a", probes.Down, false), true}}, ups("a", settleRuns, true)...), ups("a", 2, false)...)},
		{"another check's failure", append([]step{{rep("b", probes.Down, false), true}}, ups("a", 2, false)...)},
		{"a confirmation round's answer", []step{{rep("a", probes.Up, true), true}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := newQueue()
			for i, s := range c.steps {
				if got := q.isUrgent(s.r); got != s.want {
					t.Fatalf("report %d (%s %s): urgent %v, want %v", i, s.r.Check, s.r.Result.Outcome, got, s.want)
				}
			}
		})
	}
}

// windowed runs the monitor's loop in a bubble over two checks at 30 s
// and hands f a way to report; f runs on the bubble's clock.
func windowed(t *testing.T, f func(m *Monitor, report func(check string, o probes.Outcome))) {
	windowedFrom(t, 0, f)
}

// windowedFrom is windowed with the loop started late past a whole second.
func windowedFrom(t *testing.T, late time.Duration, f func(m *Monitor, report func(check string, o probes.Outcome))) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(`
site: {title: Window Test}
components: [{id: api, name: API}, {id: db, name: Database}]
checks:
  - {name: api-1, component: api, kind: tcp, target: "127.0.0.1:9", interval: 30s}
  - {name: db-1, component: db, kind: tcp, target: "127.0.0.1:9", interval: 30s}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		st, err := store.Open(filepath.Join(dir, "w.db"), store.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		m, err := New(Options{Config: cfg, Store: st, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		time.Sleep(late)
		go func() { done <- m.loop(ctx) }()
		f(m, func(check string, o probes.Outcome) {
			now := time.Now()
			m.sink(probes.Report{Check: check, Result: probes.Result{Outcome: o}, Due: now, Started: now, Finished: now})
		})
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// Routine results gather for the routine window: twenty ups over a
// second are one commit, not twenty (each commit is a transaction and
// its fsyncs, three files' worth on a cluster member). Before, every
// 50 ms window made its own commit.
func TestRoutineResultsShareACommit(t *testing.T) {
	windowed(t, func(m *Monitor, report func(string, probes.Outcome)) {
		for i := range 20 {
			report([]string{"api-1", "db-1"}[i%2], probes.Up)
			time.Sleep(50 * time.Millisecond)
		}
		synctest.Wait()
		if n, _ := m.Commits(); n > 1 {
			t.Errorf("twenty ups over a second made %d commits, want at most 1", n)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n, _ := m.Commits(); n != 1 {
			t.Errorf("%d commits once the routine window ended, want 1", n)
		}
		if got := m.Snapshot().Components; len(got) != 2 || got[0].Status != status.Operational {
			t.Errorf("after the routine window: %+v", got)
		}
	})
}

// A routine window ends on a whole window of the clock, not a window after
// its first result: the members of a cluster then write their routine
// entries at the same moment, and the leader appends them together. An up
// 300 ms past a whole second commits at the next whole second; before, at
// 1.3 s.
func TestRoutineWindowsEndOnTheClock(t *testing.T) {
	windowed(t, func(m *Monitor, report func(string, probes.Outcome)) {
		start := time.Now().Truncate(time.Second).Add(time.Second)
		time.Sleep(time.Until(start.Add(300 * time.Millisecond)))
		report("api-1", probes.Up)
		for n, _ := m.Commits(); n == 0; n, _ = m.Commits() {
			time.Sleep(10 * time.Millisecond)
		}
		if at := time.Now(); at.After(start.Add(time.Second + 10*time.Millisecond)) {
			t.Errorf("a routine up at %s committed at %s, want at the next whole second %s",
				start.Add(300*time.Millisecond).Format("15:04:05.000"), at.Format("15:04:05.000"), start.Add(time.Second).Format("15:04:05.000"))
		}
	})
}

// Every commit of routine results lands on a whole second, the periodic
// step's too (it takes the routine results waiting), whenever the loop
// started: before, the periodic step ticked 5 s after the loop began
// (00:00:05.300 here), so a member's routine entry came apart from the
// others' one time in five.
func TestRoutineCommitsStayOnTheClock(t *testing.T) {
	windowedFrom(t, 300*time.Millisecond, func(m *Monitor, report func(string, probes.Outcome)) {
		var off []string
		seen, _ := m.Commits()
		for end := time.Now().Add(12 * time.Second); time.Now().Before(end); {
			report("api-1", probes.Up)
			time.Sleep(10 * time.Millisecond)
			synctest.Wait()
			if n, _ := m.Commits(); n != seen {
				seen = n
				if now := time.Now(); now.Sub(now.Truncate(time.Second)) > 10*time.Millisecond {
					off = append(off, now.Format("15:04:05.000"))
				}
			}
		}
		if len(off) > 0 {
			t.Errorf("routine commits off the whole seconds, at %v", off)
		}
	})
}

// An urgent result cuts a routine window short: a failure 200 ms into it
// commits one batch window later, with the routine results before it.
func TestUrgentResultCutsTheRoutineWindow(t *testing.T) {
	windowed(t, func(m *Monitor, report func(string, probes.Outcome)) {
		start := time.Now()
		report("api-1", probes.Up)
		time.Sleep(200 * time.Millisecond)
		report("db-1", probes.Down)
		for n, _ := m.Commits(); n == 0; n, _ = m.Commits() {
			time.Sleep(10 * time.Millisecond)
		}
		if took := time.Since(start); took > 260*time.Millisecond {
			t.Errorf("the failure committed %s after the window opened, want 250 ms", took)
		}
		var fails, seen int
		m.o.Machine.Read(func(e *status.Engine) {
			fails = e.State().Checks["db-1"].Fails
			seen = len(e.State().Checks)
		})
		if fails != 1 || seen != 2 {
			t.Errorf("after the urgent commit: db-1 %d failures, %d checks seen; want 1 and 2", fails, seen)
		}
	})
}

// sizesLog records how many results each entry carried.
type sizesLog struct {
	l     store.Log
	sizes []int
}

func (s *sizesLog) Apply(e store.Entry) (store.Result, error) {
	if e.Inputs != nil {
		s.sizes = append(s.sizes, len(e.Inputs.Results))
	}
	return s.l.Apply(e)
}

// A backlog goes to the log in entries of at most maxEntryResults: a
// follower forwards each in one frame of at most 16 MiB, so one entry of
// a long partition's 100,000 retained results could never get through.
// Before, a flush wrote everything waiting as one entry.
func TestBacklogIsWrittenInBoundedEntries(t *testing.T) {
	m0, _, st, clk := setup(t)
	log := &sizesLog{l: m0.o.Machine}
	m, err := New(Options{Config: m0.Config(), Store: st, Machine: m0.o.Machine, Log: log, Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var pending []status.CheckResult
	for i := range 12_000 {
		pending = append(pending, up([]string{"api-1", "db-1"}[i%2], clk.now.Add(time.Duration(i)*time.Microsecond)))
	}
	var window <-chan time.Time
	if err := m.flush(&pending, &window, newBackoff(), nil); err != nil {
		t.Fatal(err)
	}
	if len(log.sizes) != 1 || log.sizes[0] != maxEntryResults || len(pending) != 12_000-maxEntryResults || window == nil {
		t.Fatalf("a flush of 12,000 results wrote entries of %v, left %d waiting (next window set: %v); want one of %d, the rest at once", log.sizes, len(pending), window != nil, maxEntryResults)
	}
	if err := m.stepAll(pending); err != nil {
		t.Fatal(err)
	}
	if want := []int{maxEntryResults, maxEntryResults, 2_000}; !slices.Equal(log.sizes, want) {
		t.Fatalf("entries of %v, want %v", log.sizes, want)
	}
	var oks int
	m.o.Machine.Read(func(e *status.Engine) { oks = e.State().Checks["api-1"].Oks })
	if oks != 6_000 {
		t.Fatalf("api-1 counted %d ups, want 6,000", oks)
	}
}
