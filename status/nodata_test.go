package status

import (
	"encoding/json"
	"testing"

	"github.com/outpost-status/outpost/probes"
)

// Issue #25, item 13: on a fresh file a component has no data until its
// checks confirm a status; the update that opens (or joins) an incident
// for it says it had no old status, not that it was operational. One
// that had data keeps its real old status; and the state survives a
// restart (it is in the component's durable state).
func TestNoDataHasNoOldStatus(t *testing.T) {
	for _, tc := range []struct {
		name    string
		before  func(h *harness) // what the component saw before failing
		restart bool
		want    ComponentStatus
	}{
		{"fresh", func(*harness) {}, false, ""},
		{"fresh, across a restart", func(*harness) {}, true, ""},
		{"had data", func(h *harness) { h.run("db-1", up, ok) }, false, Operational},
		{"degraded first", func(h *harness) { h.run("db-1", probes.Degraded, probes.ReasonSlow) }, false, DegradedPerformance},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testModel())
			tc.before(h)
			if tc.restart {
				b, err := json.Marshal(h.e.State())
				if err != nil {
					t.Fatal(err)
				}
				var s State
				if err := json.Unmarshal(b, &s); err != nil {
					t.Fatal(err)
				}
				h.e = NewEngine(testModel(), &s)
			}
			h.run("db-1", down, refu)
			open := h.open()
			if len(open) != 1 {
				t.Fatalf("%d open incidents, want 1", len(open))
			}
			if a := open[0].Latest().Affected; len(a) != 1 || a[0].Code != "db" || a[0].OldStatus != tc.want || a[0].NewStatus != MajorOutage {
				t.Errorf("affected %+v, want db %q → major_outage", a, tc.want)
			}
		})
	}
}

// The component.status_changed event of a component without data says it
// had no old status either (webhooks' component_update.old_status is null,
// posts do not say "was operational"), while one that had data keeps it.
func TestNoDataComponentEventHasNoOldStatus(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before func(h *harness)
		want   ComponentStatus
	}{
		{"fresh", func(*harness) {}, ""},
		{"had data", func(h *harness) { h.run("db-1", up, ok) }, Operational},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testModel())
			tc.before(h)
			h.run("db-1", down, refu)
			var got []ComponentEvent
			for _, ch := range h.log {
				for _, ev := range ch.Events {
					if ev.Type == ComponentStatusChanged && ev.Component.ID == "db" {
						got = append(got, *ev.Component)
					}
				}
			}
			if len(got) != 1 || got[0].OldStatus != tc.want || got[0].NewStatus != MajorOutage {
				t.Errorf("db's status events %+v, want one %q → major_outage", got, tc.want)
			}
		})
	}
}
