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

// A model's fingerprint is the same in every release: the members of a
// rolling upgrade compare theirs, and a member whose fingerprint differs
// applies nothing (machine.awaitModel) until a reload makes it agree,
// which no config could. Moving CheckDef's Push beside its other flags
// (to pack it) had changed both of these.
func TestFingerprintIsPinned(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    *Model
		want string
	}{
		{"one check", &Model{SiteTitle: "Example", Components: []ComponentDef{{ID: "api", Name: "API"}},
			Checks: []CheckDef{{Name: "api-health", Component: "api", FailureThreshold: 3, SuccessThreshold: 2, Every: 30 * time.Second}}},
			"1e1a8c224c3ef069"},
		{"no checks (a page of manual incidents)", &Model{SiteTitle: "x"}, "94d220618d9cd31e"},
		{"every field of a check", &Model{SiteTitle: "Example", Components: []ComponentDef{{ID: "api", Name: "API"}},
			Checks: []CheckDef{
				{Name: "api-health", Component: "api", FailureThreshold: 3, SuccessThreshold: 2, RecheckInterval: 5 * time.Second,
					Every: 30 * time.Second, Warning: true, Locations: []string{"eu-west", "us-east"}, Host: "api.example.net"},
				{Name: "beat", Component: "api", FailureThreshold: 1, SuccessThreshold: 1, Every: time.Minute, Push: true},
				{Name: "canary", FailureThreshold: 2, SuccessThreshold: 1, Every: 10 * time.Second, Canary: true},
			}},
			"c26bfb6ccf97b1fd"},
	} {
		if got := Fingerprint(tc.m); got != tc.want {
			t.Errorf("%s: fingerprint %s, every earlier Outpost's %s", tc.name, got, tc.want)
		}
	}
}
