package status

import (
	"testing"
	"time"
)

// everyMinute is a recurring schedule built anew for each model, as two
// processes parse the same config.
type everyMinute struct{ loc *time.Location }

func (e *everyMinute) Next(t time.Time) time.Time { return t.Truncate(time.Minute).Add(time.Minute) }

// Two models built from the same settings share a fingerprint, though
// their schedules are different values; any setting the engine reads
// changes it.
func TestFingerprint(t *testing.T) {
	build := func() *Model {
		m := testModel()
		m.Location = time.UTC
		m.Maintenance = []MaintenanceDef{{ID: "w", Name: "Weekly", Components: []string{"db"}, Schedule: &everyMinute{loc: time.UTC}, Duration: time.Hour}}
		return m
	}
	base := Fingerprint(build())
	if again := Fingerprint(build()); again != base || len(base) != 16 {
		t.Fatalf("the same settings: %q / %q", base, again)
	}
	for name, change := range map[string]func(*Model){
		"a threshold":        func(m *Model) { m.Checks[0].FailureThreshold++ },
		"a check's period":   func(m *Model) { m.Checks[1].Every = time.Minute },
		"a component":        func(m *Model) { m.Components = m.Components[:2] },
		"a dependency":       func(m *Model) { m.Components[0].DependsOn = []string{"db"} },
		"the reopen window":  func(m *Model) { m.ReopenWindow = time.Hour },
		"the time zone":      func(m *Model) { m.Location = time.FixedZone("X", 3600) },
		"a window's length":  func(m *Model) { m.Maintenance[0].Duration = 2 * time.Hour },
		"a canary":           func(m *Model) { m.Checks[2].Canary = true },
		"the locations":      func(m *Model) { m.Locations = []string{"eu-west", "us-east"} },
		"the vote":           func(m *Model) { m.Voting.Rule = VoteAll },
		"a check's vote":     func(m *Model) { m.Checks[0].Vote = VoteAny },
		"where a check runs": func(m *Model) { m.Checks[0].Locations = []string{"eu-west"} },
	} {
		m := build()
		change(m)
		if Fingerprint(m) == base {
			t.Errorf("%s changed, the fingerprint did not", name)
		}
	}
}
