package statuspage

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/outpost-status/outpost/status"
)

// A mail names components as the event's stored page named them; one the
// page left out (no data yet) or an event stored without data keeps the
// name the incident's updates last gave it.
func TestEventNames(t *testing.T) {
	inc := &status.Incident{ID: "inc-1", Components: []string{"api", "db"}, Updates: []status.Update{
		{Affected: []status.ComponentChange{{Code: "api", Name: "API (old name)"}, {Code: "db", Name: "Database"}}},
		{Affected: []status.ComponentChange{{Code: "api", Name: "API"}}},
	}}
	data := json.RawMessage(`{"page":{"id":"p"},"incident":{"id":"inc-1","components":[{"id":"api","name":"Public API","status":"major_outage"}]}}`)
	for _, tc := range []struct {
		name string
		ev   status.Event
		want map[string]string
	}{
		{"the stored page's names win", status.Event{Incident: inc, Data: data}, map[string]string{"api": "Public API", "db": "Database"}},
		{"no data: the updates' latest names", status.Event{Incident: inc}, map[string]string{"api": "API", "db": "Database"}},
		{"data that is not an incident's", status.Event{Incident: inc, Data: json.RawMessage(`{"component":{"id":"api","name":"X"}}`)},
			map[string]string{"api": "API", "db": "Database"}},
		{"no incident", status.Event{Data: json.RawMessage(`not json`)}, map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := EventNames(tc.ev); !maps.Equal(got, tc.want) {
				t.Errorf("EventNames = %v, want %v", got, tc.want)
			}
		})
	}
}
