package monitor

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/machine"
	"github.com/outpost-status/outpost/status/store"
)

// lossyLog is a replicated log whose answer to the next lose entries with
// results is lost after they committed (a leader that died answering).
type lossyLog struct {
	m    *machine.Machine
	lose int
	sent int
}

func (l *lossyLog) Apply(e store.Entry) (store.Result, error) {
	res, err := l.m.Apply(e)
	if e.Inputs != nil && len(e.Inputs.Results) > 0 {
		l.sent++
		if err == nil && l.lose > 0 {
			l.lose--
			return store.Result{}, fmt.Errorf("answer lost: %w", store.ErrLogUnavailable)
		}
	}
	return res, err
}

// A cluster member whose write's outcome is unknown sends the same entry
// again under its key before anything new: the results are counted once
// (two failures, not three), and nothing is lost.
func TestUnknownOutcomeIsSentAgainAndCountedOnce(t *testing.T) {
	m0, _, st, clk := setup(t)
	cfg := m0.Config()
	mc, err := machine.New(machine.Options{Store: st, Model: cfg.Model()})
	if err != nil {
		t.Fatal(err)
	}
	log := &lossyLog{m: mc, lose: 1}
	m, err := New(Options{Config: cfg, Store: st, Machine: mc, Log: log, Now: clk.Now, Logger: slog.New(slog.DiscardHandler), Node: "ams"})
	if err != nil {
		t.Fatal(err)
	}
	down := func(at time.Time) status.CheckResult {
		return status.CheckResult{Check: "db-1", At: at, Result: probes.Result{Outcome: probes.Down, Reason: probes.ReasonTimeout}}
	}
	// Through the loop's flush, which keeps a failed step's results for
	// the next one unless the resend carries them.
	var window <-chan time.Time
	retry := newBackoff()
	pending := []status.CheckResult{down(clk.now)}
	if err := m.flush(&pending, &window, retry, nil); err != nil {
		t.Fatal(err)
	}
	clk.now = clk.now.Add(time.Second)
	pending = append(pending, down(clk.now))
	if err := m.flush(&pending, &window, retry, nil); err != nil {
		t.Fatal(err)
	}
	var fails int
	mc.Read(func(e *status.Engine) { fails = e.State().Checks["db-1"].Fails })
	if fails != 2 || log.sent != 3 {
		t.Fatalf("db-1 counted %d failures after %d sends, want 2 after 3 (one resent)", fails, log.sent)
	}
}
