package cluster

import (
	"fmt"
	"path/filepath"
	"sync"
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
	st, err := store.Open(filepath.Join(b.TempDir(), "one.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	// The one machine is a single node: its model has no locations (with
	// the cluster's, its results would have no location to vote from,
	// nothing would change and it would skip its fsync).
	oneModel := ms[0].cfg.Model()
	oneModel.Locations = nil
	one, err := machine.New(machine.Options{Store: st, Model: oneModel})
	if err != nil {
		b.Fatal(err)
	}
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
