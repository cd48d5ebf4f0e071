package monitor

import (
	"context"
	"errors"
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

// leaderLostLog is a replicated log whose leader is lost while it holds
// the first entry carrying commands: made says whether that entry
// committed all the same; then gone entries more find no leader at all.
type leaderLostLog struct {
	m    *machine.Machine
	made bool
	gone int
	lost bool // the first entry with commands was taken
}

func (l *leaderLostLog) Apply(e store.Entry) (store.Result, error) {
	if e.Inputs != nil && len(e.Inputs.Commands) > 0 && !l.lost {
		l.lost = true
		if l.made {
			if _, err := l.m.Apply(e); err != nil {
				return store.Result{}, err
			}
		}
		return store.Result{}, fmt.Errorf("forwarded write: no answer: %w", store.ErrOutcomeUnknown)
	}
	if l.lost && l.gone > 0 {
		l.gone--
		return store.Result{}, fmt.Errorf("no leader: %w", store.ErrLogUnavailable)
	}
	return l.m.Apply(e)
}

// An admin command whose entry's outcome is unknown (the leader died
// holding it) is never answered "nothing changed": it is sent again at
// once under the same key, so it is made once whichever try made it, and
// answered with its replies, or, when its answer is lost for good, with
// an honest "check before trying again". Never two incidents.
func TestCommandOfUnknownOutcomeIsNeverToldNothingChanged(t *testing.T) {
	for _, tc := range []struct {
		name    string
		made    bool
		gone    int
		replies bool // answered with the incident's id
		wantErr error
		want    int // incidents named so afterwards
	}{
		{"not made, then sent again", false, 0, true, nil, 1},
		{"made, its answer lost", true, 0, false, status.ErrAnswerLost, 1},
		{"not made, no leader since", false, 1, false, status.ErrOutcomeUnknown, 0},
		{"made, no leader since", true, 1, false, status.ErrOutcomeUnknown, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m0, _, st, clk := setup(t)
			cfg := m0.Config()
			mc, err := machine.New(machine.Options{Store: st, Model: cfg.Model()})
			if err != nil {
				t.Fatal(err)
			}
			log := &leaderLostLog{m: mc, made: tc.made, gone: tc.gone}
			m, err := New(Options{Config: cfg, Store: st, Machine: mc, Log: log, Now: clk.Now, Logger: slog.New(slog.DiscardHandler), Node: "ams"})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx) }()
			defer func() { cancel(); <-done }()
			reqCtx, stop := context.WithTimeout(context.Background(), 20*time.Second)
			defer stop()
			replies, err := m.Do(reqCtx, status.Command{Kind: status.CreateIncident, Name: "Payments down", Status: status.Investigating,
				Components: map[string]status.ComponentStatus{"api": status.MajorOutage}})
			if errors.Is(err, status.ErrNotCommitted) {
				t.Fatalf("answered %q", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("answered %v, want %v", err, tc.wantErr)
			}
			if tc.replies && (err != nil || len(replies) != 1 || replies[0].IncidentID == "") {
				t.Fatalf("answered %v %+v, want the incident's id", err, replies)
			}
			var named int
			mc.Read(func(e *status.Engine) {
				for _, inc := range e.State().Incidents {
					if inc.Name == "Payments down" {
						named++
					}
				}
			})
			if named != tc.want {
				t.Fatalf("%d incidents named so, want %d", named, tc.want)
			}
		})
	}
}
