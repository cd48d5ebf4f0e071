package cluster

import (
	"fmt"
	"path/filepath"
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
//	go test ./status/cluster -run '^$' -bench Replicated -benchtime 200x
func BenchmarkReplicated(b *testing.B) {
	for _, n := range []int{50, 500} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) { benchReplicated(b, n) })
	}
}

func benchReplicated(b *testing.B, perBatch int) {
	t0 := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	entry := func(i int) store.Entry {
		at := t0.Add(time.Duration(i) * time.Second)
		rs := make([]status.CheckResult, perBatch)
		for j := range rs {
			rs[j] = status.CheckResult{Check: "api-1", At: at.Add(time.Duration(j) * time.Millisecond), Result: probes.Result{Outcome: probes.Up, Reason: probes.ReasonOK}}
		}
		return store.Entry{At: at.Add(time.Second), Inputs: store.NewInputs(rs, nil, "ams", "eu-west")}
	}
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
	one, err := machine.New(machine.Options{Store: st, Model: ms[0].cfg.Model()})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if _, err := one.Apply(entry(i)); err != nil {
			b.Fatal(err)
		}
	}
	single := time.Since(start)
	start = time.Now()
	for i := range b.N {
		if _, err := leader.node.Apply(entry(i)); err != nil {
			b.Fatal(err)
		}
	}
	replicated := time.Since(start)
	b.StopTimer()
	results := float64(b.N * perBatch)
	b.ReportMetric(results/single.Seconds(), "single-results/s")
	b.ReportMetric(results/replicated.Seconds(), "replicated-results/s")
	b.ReportMetric(single.Seconds()/replicated.Seconds(), "ratio")
	fmt.Fprintf(b.Output(), "%d entries of %d results: one machine %s, three members %s\n", b.N, perBatch, single, replicated)
}
