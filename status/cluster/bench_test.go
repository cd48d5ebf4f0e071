package cluster

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/machine"
	"github.com/outpost-status/outpost/status/store"
)

// BenchmarkReplicated writes result batches (50: what a 50 ms window
// holds at 1,000 results/s; 500: a window of a monitor that fell behind)
// through three members on loopback (raft, mutual TLS, fsync on every
// member) and, in the same run, through one machine alone: results/s
// each, and their ratio (issue 29's goal is at least 0.5).
//
// writers=3 is a cluster as it runs: each member's monitor writes its own
// batches one at a time through its own member (a follower forwards to the
// leader), so three writes are in flight; the single machine is given the
// same three writers (it applies them one at a time, as it does one
// monitor's). writers=1 is one monitor alone, every write waiting for the
// one before. The two are measured in alternating rounds.
//
//	go test ./status/cluster -run '^$' -bench Replicated -benchtime 200x
func BenchmarkReplicated(b *testing.B) {
	for _, w := range []int{1, 3} {
		for _, n := range []int{50, 500} {
			b.Run(fmt.Sprintf("writers=%d/batch=%d", w, n), func(b *testing.B) { benchReplicated(b, w, n) })
		}
	}
}

// batchOf is writer w's i-th batch of n results.
func batchOf(w, i, n int, node string) store.Entry {
	t0 := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	at := t0.Add(time.Duration(i) * time.Second).Add(time.Duration(w) * 100 * time.Millisecond)
	rs := make([]status.CheckResult, n)
	for j := range rs {
		rs[j] = status.CheckResult{Check: "api-1", At: at.Add(time.Duration(j) * time.Microsecond), Result: probes.Result{Outcome: probes.Up, Reason: probes.ReasonOK}}
	}
	// Writer w is member w, at its location (threeNodes: loc-0, loc-1,
	// loc-2): results from elsewhere would be dropped by the vote.
	return store.Entry{At: at.Add(time.Second), Inputs: store.NewInputs(rs, nil, node, fmt.Sprintf("loc-%d", w))}
}

// drive has each writer apply its share of the batches from..to through
// its log, one at a time, all writers at once; it returns the time taken.
func drive(b *testing.B, logs []store.Log, from, to, perBatch int) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	for w, l := range logs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := from + w; i < to; i += len(logs) {
				if _, err := l.Apply(batchOf(w, i, perBatch, fmt.Sprint("w", w))); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

func benchReplicated(b *testing.B, writers, perBatch int) {
	ms := threeNodes(b)
	for _, m := range ms {
		m.start(b, 0)
	}
	var leader *member
	eventually(b, "leader", func() bool {
		for _, m := range ms {
			if m.node.IsLeader() {
				leader = m
			}
		}
		return leader != nil
	})
	one, _ := oneMachine(b, ms[0])
	singles, members := []store.Log{one}, []store.Log{leader.node}
	if writers > 1 {
		singles, members = []store.Log{one, one, one}, []store.Log{ms[0].node, ms[1].node, ms[2].node}
	}
	b.ResetTimer()
	// In rounds of 12 batches, one machine then the three members: on a
	// shared machine both see the same neighbours' load.
	var single, replicated time.Duration
	for from := 0; from < b.N; from += 12 {
		to := min(from+12, b.N)
		single += drive(b, singles, from, to, perBatch)
		replicated += drive(b, members, from, to, perBatch)
	}
	b.StopTimer()
	results := float64(b.N * perBatch)
	b.ReportMetric(results/single.Seconds(), "single-results/s")
	b.ReportMetric(results/replicated.Seconds(), "replicated-results/s")
	b.ReportMetric(single.Seconds()/replicated.Seconds(), "ratio")
	fmt.Fprintf(b.Output(), "%d entries of %d results, %d writers: one machine %s, three members %s\n", b.N, perBatch, writers, single, replicated)
}

// oneMachine is a single node over a real bbolt file, with m's checks.
func oneMachine(b testing.TB, m *member) (*machine.Machine, *store.Store) {
	st, err := store.Open(filepath.Join(b.TempDir(), "one.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	// The one machine is a single node: its model has no locations (with
	// the cluster's, its results would have no location to vote from,
	// nothing would change and it would skip its fsync).
	model := m.cfg.Model()
	model.Locations = nil
	one, err := machine.New(machine.Options{Store: st, Model: model})
	if err != nil {
		b.Fatal(err)
	}
	return one, st
}

// BenchmarkReplicatedMonitor measures what issue 29 asks: the results/s a
// single node and three members on loopback (raft, mutual TLS, fsync on
// every member) can take in, in the same run, with batches formed as the
// monitor forms them. BenchmarkReplicated's fixed batches, each waited
// for, measure a write's latency instead.
//
// Each writer is a producer offering results at a steady rate into a queue
// and a loop that does what the monitor's loop does: the first waiting
// result opens a 50 ms window, at its end everything waiting is applied as
// one entry, and what arrives meanwhile waits for the next window (batches
// grow when writes slow down). The single node has one writer; the
// cluster three, one per member (followers forward to the leader), each
// offering a third of the total rate: both are given the same results/s,
// and the log's total results/s is compared. (Every member runs every
// check, so a cluster of N checks makes three times the results of one
// node with N checks: per check, a cluster's capacity is a third of its
// figure here.)
//
// The offered rate climbs a ladder, the two systems alternating rung by
// rung so both meet the same neighbours' load; a system stops at the first
// rung it cannot keep up with (every result applied within rungTime + 1 s
// of the rung's start). Reported: the highest rung kept up with, the
// results/s applied at the first rung missed (offered / time until all
// applied, or until rungMax), and their ratios, cluster over single.
//
//	go test ./status/cluster -run '^$' -bench ReplicatedMonitor -benchtime 1x -v
func BenchmarkReplicatedMonitor(b *testing.B) {
	ms := threeNodes(b)
	checks := moreChecks(ms, benchChecks)
	for _, m := range ms {
		m.start(b, 0)
	}
	eventually(b, "leader", func() bool { return ms[0].node.Leader() != "" })
	// A steady cluster's members have each opened their codec gate (they
	// ask every 10 s): results go in the newest codec from the first rung.
	for _, m := range ms {
		eventually(b, m.id+"'s codec gate", func() bool { return m.node.CodecReady(store.CodecVersion, time.Second) == nil })
	}
	one, oneStore := oneMachine(b, ms[0])
	clock := benchClock{start: time.Now()}
	single := &system{name: "single", runner: inProcess{{log: one}}}
	var feeders inProcess
	for i, m := range ms {
		feeders = append(feeders, memberFeeder(m, i))
	}
	cluster := &system{name: "cluster", runner: feeders}
	b.ResetTimer()
	compare(b, single, cluster, checks, clock)
	b.StopTimer()
	// Every result counted as applied was real work: the engine took it
	// (an unknown check's or a non-voter's is dropped) and it is in every
	// file's raw results.
	mustHold(b, "the single node", oneStore, checks, single.applied)
	for _, m := range ms {
		mustHold(b, m.id, m.st, checks, cluster.applied)
	}
}

// memberFeeder is the i-th member's monitor, keying its entries as a
// member's monitor does.
func memberFeeder(m *member, i int) *feeder {
	return &feeder{log: m.node, node: m.id, loc: fmt.Sprintf("loc-%d", i), model: m.mach.Fingerprint(), writer: m.id + "/bench"}
}

// compare climbs the ladder, single and cluster alternating rung by rung,
// each until the first rung it misses, and reports both and their ratios.
func compare(b *testing.B, single, cluster *system, checks []string, clock benchClock) {
	for _, rate := range ladder {
		for _, s := range []*system{single, cluster} {
			if s.missed == nil {
				s.climb(b, rate, checks, clock)
			}
		}
		if single.missed != nil && cluster.missed != nil {
			break
		}
	}
	single.report(b)
	cluster.report(b)
	b.ReportMetric(cluster.capacity()/single.capacity(), "ratio")
	b.ReportMetric(float64(cluster.kept)/float64(max(single.kept, 1)), "kept-ratio")
}

const (
	benchChecks = 100                   // distinct checks the results spread over
	rungTime    = 3 * time.Second       // how long a rung offers results
	rungSlack   = time.Second           // kept up: all applied within rungTime + rungSlack
	rungMax     = 12 * time.Second      // a rung missed stops waiting here
	produceTick = 5 * time.Millisecond  // the producer adds what is owed this often
	benchWindow = 50 * time.Millisecond // monitor.Options.BatchWindow's default
)

// ladder is the offered total results/s, rung by rung.
var ladder = []int{2_500, 5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000}

// moreChecks gives every member's config n checks, api-1 and copies of it
// (threeNodes has api-1 alone; results of a check the model does not know
// are dropped by the engine), and returns their names. The members must
// not have started: the same checks everywhere, or their models differ.
func moreChecks(ms []*member, n int) []string {
	var names []string
	for _, m := range ms {
		first := m.cfg.Checks[0]
		names = []string{first.Name}
		for i := 2; i <= n; i++ {
			c := first
			c.Name = fmt.Sprintf("api-%d", i)
			m.cfg.Checks = append(m.cfg.Checks, c)
			names = append(names, c.Name)
		}
	}
	return names
}

// benchClock maps real time onto result times from a fixed t0, so entries'
// and results' times increase as the run goes.
type benchClock struct{ start time.Time }

func (c benchClock) at(now time.Time) time.Time {
	return time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC).Add(now.Sub(c.start))
}

// system is one side of the comparison: its writers and its rungs so far.
type system struct {
	name    string
	runner  runner
	kept    int   // the highest rung kept up with (results/s offered)
	missed  *rung // the first rung missed
	applied int   // results applied over all rungs
	last    rung  // the last rung run
}

// rung is what one offered rate came to.
type rung struct {
	rate             int
	offered, applied int
	entries          int
	writing          time.Duration // the writes' time, summed over writers
	took             time.Duration // until all were applied, or until it stopped waiting
	cpu              time.Duration // the process's CPU time meanwhile (user and system)
	procs            []proc        // per process, when each writer is a process of its own
	err              error
}

// runner runs a rung: the writers of one system, in this process or each
// in a process of its own.
type runner interface {
	run(rate int, checks []string, clock benchClock) rung
}

func (r rung) appliedRate() float64 { return float64(r.applied) / r.took.Seconds() }

func (r rung) kept() bool {
	return r.err == nil && r.applied == r.offered && r.took <= rungTime+rungSlack
}

// capacity is the results/s applied at the first rung missed (the top
// rung's when none was).
func (s *system) capacity() float64 {
	if s.missed != nil {
		return s.missed.appliedRate()
	}
	return s.last.appliedRate()
}

func (s *system) report(b *testing.B) {
	b.ReportMetric(float64(s.kept), s.name+"-kept-results/s")
	b.ReportMetric(s.capacity(), s.name+"-results/s")
}

// climb runs one rung at rate results/s offered in all.
func (s *system) climb(b *testing.B, rate int, checks []string, clock benchClock) {
	r := s.runner.run(rate, checks, clock)
	s.applied += r.applied
	s.last = r
	verdict := "kept up"
	switch {
	case r.kept():
		s.kept = rate
	case r.err != nil:
		verdict = "failed: " + r.err.Error()
		s.missed = &r
	default:
		verdict = "missed"
		s.missed = &r
	}
	per := max(r.entries, 1)
	fmt.Fprintf(b.Output(), "%-7s offered %7d/s: %7d of %7d results applied in %5.2f s (%7.0f/s), %4d entries of %6.0f results, %4.0f ms a write, %.2f cores: %s\n",
		s.name, rate, r.applied, r.offered, r.took.Seconds(), r.appliedRate(), r.entries, float64(r.applied)/float64(per),
		float64(r.writing.Milliseconds())/float64(per), r.cpu.Seconds()/r.took.Seconds(), verdict)
	if len(r.procs) > 0 {
		fmt.Fprintf(b.Output(), "        %s\n", procsLine(r))
	}
}

// inProcess is a system whose writers all run in this process.
type inProcess []*feeder

// run offers rate results/s for rungTime through the feeders, a share
// each, and waits until all are applied or rungMax has passed.
func (fs inProcess) run(rate int, checks []string, clock benchClock) rung {
	start, cpu0 := time.Now(), cpuTime()
	per := rate / len(fs)
	out := rung{rate: rate, offered: per * int(rungTime/time.Second) * len(fs)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := f.feed(share{w: w, n: len(fs), per: per, start: start}, checks, clock)
			mu.Lock()
			defer mu.Unlock()
			out.applied, out.entries, out.writing = out.applied+res.applied, out.entries+res.entries, out.writing+res.writing
			out.took = max(out.took, res.end.Sub(start))
			out.err = errors.Join(out.err, res.err)
		}()
	}
	wg.Wait()
	out.cpu = cpuTime() - cpu0
	return out
}

// cpuTime is the CPU time this process has used: a rung's share of it
// says whether the system was CPU-bound (2 cores here).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchQueue is the monitor's queue: a producer never waits on it.
type benchQueue struct {
	mu    sync.Mutex
	items []status.CheckResult
	ready chan struct{}
}

func (q *benchQueue) put(rs []status.CheckResult) {
	q.mu.Lock()
	q.items = append(q.items, rs...)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *benchQueue) take() []status.CheckResult {
	q.mu.Lock()
	defer q.mu.Unlock()
	rs := q.items
	q.items = nil
	return rs
}

// produce puts per results/s into q for rungTime, total in all: every tick
// what is owed by then, so a late tick catches up. Writer w of n gives its
// results times of their own (raw results are keyed by check and time).
func produce(q *benchQueue, w, n, per, total int, start time.Time, checks []string, clock benchClock) {
	t := time.NewTicker(produceTick)
	defer t.Stop()
	made := 0
	for made < total {
		now := <-t.C
		owed := total
		if el := now.Sub(start); el < rungTime {
			owed = min(total, int(float64(per)*el.Seconds()))
		}
		if owed <= made {
			continue // nothing owed yet (a process of its own is told its rung ahead of its start)
		}
		at := clock.at(now)
		rs := make([]status.CheckResult, 0, owed-made)
		for i := 0; made < owed; i, made = i+1, made+1 {
			rs = append(rs, status.CheckResult{Check: checks[made%len(checks)], At: at.Add(time.Duration(i*n + w)),
				Result: probes.Result{Outcome: probes.Up, Reason: probes.ReasonOK}})
		}
		q.put(rs)
	}
}

// feeder writes one monitor's entries through its log, keyed as a
// cluster member's monitor keys them (a single node's are not).
type feeder struct {
	log                      store.Log
	node, loc, model, writer string
	seq                      uint64
}

// share is writer w of n's part of a rung: per results/s offered from
// start for rungTime.
type share struct {
	w, n, per int
	start     time.Time
}

// feed offers s's results into a queue of its own and writes them as the
// monitor does, until all are applied or rungMax after s.start.
func (f *feeder) feed(s share, checks []string, clock benchClock) written {
	total := s.per * int(rungTime/time.Second)
	q := &benchQueue{ready: make(chan struct{}, 1)}
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		produce(q, s.w, s.n, s.per, total, s.start, checks, clock)
	}()
	res := f.write(q, total, s.start.Add(rungMax), clock)
	<-produced
	return res
}

// written is what one feeder's part of a rung came to.
type written struct {
	applied, entries int
	writing          time.Duration // in Apply, in all
	longest          time.Duration // the slowest Apply
	end              time.Time     // when it stopped
	err              error
}

// write is the monitor's loop over q until total results are applied, an
// Apply fails or hard passes.
func (f *feeder) write(q *benchQueue, total int, hard time.Time, clock benchClock) written {
	stop := time.NewTimer(time.Until(hard))
	defer stop.Stop()
	var w written
	var window <-chan time.Time
	for w.applied < total {
		select {
		case <-q.ready:
			if window == nil {
				window = time.After(benchWindow)
			}
		case <-window:
			window = nil
			rs := q.take()
			began := time.Now()
			_, err := f.log.Apply(f.entry(rs, clock.at(began)))
			took := time.Since(began)
			w.writing, w.longest = w.writing+took, max(w.longest, took)
			if err != nil {
				w.end, w.err = time.Now(), fmt.Errorf("%s: entry of %d results: %w", f.node, len(rs), err)
				return w
			}
			w.applied, w.entries = w.applied+len(rs), w.entries+1
		case <-stop.C:
			w.end = time.Now()
			return w
		}
	}
	w.end = time.Now()
	return w
}

func (f *feeder) entry(rs []status.CheckResult, at time.Time) store.Entry {
	in := store.NewInputs(rs, nil, f.node, f.loc)
	if f.writer != "" {
		f.seq++
		in.Model, in.Writer, in.Seq = f.model, f.writer, f.seq
	}
	return store.Entry{At: at, Inputs: in}
}

// rawCount is how many raw results st's local file holds for checks.
func rawCount(b testing.TB, st *store.Store, checks []string) int {
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	rs, err := st.Results("", from, to, math.MaxInt)
	if err != nil {
		b.Fatal(err)
	}
	want := make(map[string]bool, len(checks))
	for _, c := range checks {
		want[c] = true
	}
	n := 0
	for _, r := range rs {
		if want[r.Check] {
			n++
		}
	}
	return n
}

// mustHold waits until st holds want raw results: a follower writes an
// entry's raw results to its local file after it applied the entry.
func mustHold(b *testing.B, who string, st *store.Store, checks []string, want int) {
	if got := holds(b, st, checks, want); got != want {
		b.Errorf("%s holds %d raw results, %d were applied", who, got, want)
	}
}

// holds is how many raw results st holds for checks once it holds want,
// or after 20 s.
func holds(t testing.TB, st *store.Store, checks []string, want int) int {
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := rawCount(t, st, checks)
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}
