package status

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
)

// A step recomputes only the components whose checks changed status; it
// must decide exactly what a full pass over every component would. Two
// engines take the same random inputs (results, commands, configured and
// API maintenance, canaries cutting connectivity, hours passing, a reload dropping a component, a
// restore), one forced to a full pass in every step, and must agree on
// every change and on the state, step by step.
func TestIncrementalStepsMatchFullPasses(t *testing.T) {
	seen := map[EventType]int{}
	defer func() {
		for _, k := range []EventType{ComponentStatusChanged, IncidentCreated, IncidentResolved, MaintenanceStarted,
			MaintenanceCompleted, MonitorConnectivityLost} {
			if seen[k] == 0 {
				t.Errorf("no %s in any script: the test does not cover it", k)
			}
		}
	}()
	for seed := range uint64(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			model := func(drop bool) *Model {
				m := &Model{SiteTitle: "Acme", AutoIncidents: true, ReopenWindow: 5 * time.Minute}
				for i := range 12 {
					if drop && i == 5 {
						continue
					}
					id := fmt.Sprintf("c%d", i)
					m.Components = append(m.Components, ComponentDef{ID: id, Name: "Component " + id, Group: fmt.Sprint(i / 4)})
					for j := range 1 + i%3 {
						m.Checks = append(m.Checks, CheckDef{Name: fmt.Sprintf("%s-%d", id, j), Component: id,
							FailureThreshold: 1 + j, SuccessThreshold: 1 + i%2, Every: 30 * time.Second, RecheckInterval: 2 * time.Second})
					}
				}
				for j := range 2 { // canaries: when they fail with the checks, statuses freeze
					m.Checks = append(m.Checks, CheckDef{Name: fmt.Sprintf("canary-%d", j), Canary: true,
						FailureThreshold: 1, SuccessThreshold: 1, Every: 30 * time.Second})
				}
				m.ConnectivityThreshold = 0.3
				m.Maintenance = []MaintenanceDef{{ID: "w", Name: "Window", Components: []string{"c1", "c2"},
					Start: t0.Add(20 * time.Minute), End: t0.Add(50 * time.Minute)}}
				return m
			}
			inc, full := NewEngine(model(false), nil), NewEngine(model(false), nil)
			now := t0
			var checks []string
			for _, c := range inc.Model().Checks {
				checks = append(checks, c.Name)
			}
			outcomes := []probes.Outcome{probes.Up, probes.Up, probes.Up, probes.Down, probes.Degraded}
			for step := range 600 {
				now = now.Add(time.Duration(rng.IntN(20)) * time.Second)
				b := Batch{Now: now}
				for range rng.IntN(4) {
					b.Results = append(b.Results, CheckResult{Check: checks[rng.IntN(len(checks))], At: now,
						Result: probes.Result{Outcome: outcomes[rng.IntN(len(outcomes))], Reason: probes.ReasonOK}})
				}
				switch r := rng.IntN(100); {
				case r < 3:
					b.Commands = []Command{{Kind: CreateIncident, Name: "By hand", Body: "Looking.",
						Components: map[string]ComponentStatus{fmt.Sprintf("c%d", rng.IntN(12)): PartialOutage}}}
				case r < 6:
					if open := full.openIncidents(); len(open) > 0 {
						b.Commands = []Command{{Kind: UpdateIncident, IncidentID: open[rng.IntN(len(open))], Status: Resolved, Body: "Done.",
							Components: map[string]ComponentStatus{fmt.Sprintf("c%d", rng.IntN(12)): Operational}}}
					}
				case r < 7:
					b.Commands = []Command{{Kind: ScheduleMaintenance, Name: "API window", Body: "Briefly.",
						Components: map[string]ComponentStatus{"c7": ""}, Start: now.Add(time.Minute), End: now.Add(4 * time.Minute)}}
				case r < 8:
					now = now.Add(time.Hour) // an hour to account
					b.Now = now
				}
				switch step {
				case 300: // a reload drops a component
					inc.SetModel(model(true))
					full.SetModel(model(true))
				case 450: // a failed commit's undo: the state comes back from a copy
					copyOf := func(e *Engine) *State {
						s := NewState() // as the store loads it
						raw, _ := json.Marshal(e.State())
						if err := json.Unmarshal(raw, s); err != nil {
							t.Fatal(err)
						}
						return s
					}
					inc.Restore(copyOf(inc))
					full.Restore(copyOf(full))
				}
				full.rescan = true
				a, want := inc.Apply(b), full.Apply(b)
				ga, _ := json.Marshal(a)
				gw, _ := json.Marshal(want)
				if string(ga) != string(gw) {
					t.Fatalf("step %d: incremental changes\n%s\nfull pass\n%s", step, ga, gw)
				}
				for _, ev := range want.Events {
					seen[ev.Type]++
				}
				sa, _ := json.Marshal(inc.State())
				sw, _ := json.Marshal(full.State())
				if string(sa) != string(sw) {
					t.Fatalf("step %d: states differ", step)
				}
			}
			if full.State().Seq < 50 {
				t.Fatalf("the script did little: seq %d", full.State().Seq)
			}
		})
	}
}

// openIncidents are the ids of open incidents, in sequence order.
func (e *Engine) openIncidents() []string {
	var out []string
	for _, inc := range e.sortedIncidents() {
		if inc.Open() && inc.Maintenance == nil {
			out = append(out, inc.ID)
		}
	}
	return out
}
