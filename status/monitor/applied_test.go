package monitor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// Entries written by another node reach this one through the log's applier
// (raft's FSM calls the machine), not through this monitor's steps. The
// page must move on every applier, and a first failure's confirmation
// re-check must be asked for from the applied state, wherever the result
// came from.
func TestEntriesFromAnotherWriterMoveThePage(t *testing.T) {
	m, srv, _, clk := setup(t)
	m.o.PublishEvery = time.Hour // only an applied entry can publish here
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.loop(ctx) }()
	defer func() { cancel(); <-done }()
	apply := func(index uint64, secs ...int) {
		t.Helper()
		var rs []status.CheckResult
		for _, s := range secs {
			rs = append(rs, status.CheckResult{Check: "db-1", At: clk.now.Add(time.Duration(s) * time.Second),
				Result: probes.Result{Outcome: probes.Down, Reason: probes.ReasonTimeout}})
		}
		data, err := store.EncodeEntry(store.Entry{At: clk.now.Add(time.Duration(secs[len(secs)-1]) * time.Second),
			Inputs: store.NewInputs(rs, nil, "nyc", "us-east")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.o.Machine.ApplyEncoded(data, index, 0); err != nil {
			t.Fatal(err)
		}
	}
	apply(1, 1) // a first failure: not yet confirmed
	waitFor(t, "a re-check of db-1", func() bool {
		m.timersMu.Lock()
		defer m.timersMu.Unlock()
		return m.timers["db-1"] != nil
	})
	apply(2, 2, 3) // confirmed
	waitFor(t, "the page to show the outage", func() bool {
		s := m.Snapshot()
		return s != nil && s.Components[1].Status == status.MajorOutage
	})
	if page := fetch(t, srv.Handler(), "/"); !strings.Contains(page, "Major Service Outage") {
		t.Fatalf("the page does not show the outage applied from another writer")
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
