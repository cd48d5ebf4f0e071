package statuspage

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
)

// Statuspage's enums, as its documentation and /api/v2 give them.
var spEnums = map[string][]string{
	"page.status_indicator":              {"none", "minor", "major", "critical"},
	"incident.status":                    {"investigating", "identified", "monitoring", "resolved", "postmortem", "scheduled", "in_progress", "verifying", "completed"},
	"incident.impact":                    {"none", "minor", "major", "critical", "maintenance"},
	"incident.incident_updates[].status": {"investigating", "identified", "monitoring", "resolved", "postmortem", "scheduled", "in_progress", "verifying", "completed"},
	"component.status":                   {"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"},
	"component_update.old_status":        {"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"},
	"component_update.new_status":        {"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"},
	"incident.incident_updates[].affected_components[].new_status": {"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"},
}

func formatSnapshot(at time.Time) (*status.Snapshot, *status.Incident) {
	inc := &status.Incident{ID: "inc-7", Name: "Public API is unavailable", Status: status.Monitoring, Impact: status.ImpactCritical,
		Components: []string{"api"}, CreatedAt: at, UpdatedAt: at.Add(time.Hour), StartedAt: at, MonitoringAt: at.Add(time.Hour),
		Updates: []status.Update{
			{ID: "u1", Status: status.Investigating, Body: "Requests fail.", CreatedAt: at, UpdatedAt: at, DisplayAt: at,
				Affected: []status.ComponentChange{{Code: "api", Name: "API", OldStatus: status.Operational, NewStatus: status.MajorOutage}}},
			{ID: "u2", Status: status.Identified, Body: "Found it.", CreatedAt: at.Add(30 * time.Minute), UpdatedAt: at.Add(30 * time.Minute), DisplayAt: at.Add(30 * time.Minute)},
			{ID: "u3", Status: status.Monitoring, Body: "Fixed; watching.", CreatedAt: at.Add(time.Hour), UpdatedAt: at.Add(time.Hour), DisplayAt: at.Add(time.Hour)},
		}}
	snap := &status.Snapshot{GeneratedAt: at.Add(time.Hour), Indicator: status.ImpactCritical, Description: "Major System Outage",
		Components: []status.ComponentView{{ID: "api", Name: "API", Status: status.MajorOutage}}, Incidents: []*status.Incident{inc}}
	return snap, inc
}

// A format: statuspage body has every key of Statuspage's documented
// examples, with values of the same JSON type, and every enum inside
// Statuspage's; meta carries the subscriber's links.
func TestStatuspageBodiesMatchTheDocumentedExamples(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	snap, inc := formatSnapshot(at)
	v := New(Site{ID: "acme", Name: "Acme", URL: "https://status.acme.test", Location: time.UTC}, snap)
	meta := Meta{Unsubscribe: "https://status.acme.test/unsubscribe/TOKEN", Documentation: "https://status.acme.test/api/openapi.json"}
	for _, tc := range []struct {
		fixture string
		ev      status.Event
	}{
		{"incident.json", status.Event{ID: "evt-1", Type: status.IncidentUpdated, At: at.Add(time.Hour), Incident: inc, Update: &inc.Updates[2]}},
		{"component.json", status.Event{ID: "evt-2", Type: status.ComponentStatusChanged, At: at,
			Component: &status.ComponentEvent{ID: "api", Name: "API", OldStatus: status.Operational, NewStatus: status.MajorOutage}}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			data, err := v.WebhookData(tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			stored, _ := json.Marshal(data) // as the step stores it with the event
			body, err := StatuspageBody(stored, meta)
			if err != nil {
				t.Fatal(err)
			}
			var got, want any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, body)
			}
			raw, err := os.ReadFile("testdata/statuspage-webhooks/" + tc.fixture)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			for _, p := range sameShape("", want, got) {
				t.Error(p)
			}
			for _, p := range inEnums("", want) {
				t.Errorf("the fixture itself: %s", p)
			}
			for _, p := range inEnums("", got) {
				t.Error(p)
			}
			m := got.(map[string]any)["meta"].(map[string]any)
			if m["unsubscribe"] != meta.Unsubscribe || m["documentation"] != meta.Documentation {
				t.Errorf("meta = %v", m)
			}
		})
	}
}

// sameShape lists where got lacks a key of want or holds another JSON type
// (null in want matches anything; null in got matches only null).
func sameShape(path string, want, got any) []string {
	var out []string
	switch w := want.(type) {
	case nil:
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an object, got %T", path, got)}
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			out = append(out, sameShape(path+"."+k, w[k], gv)...)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) == 0 {
			return []string{fmt.Sprintf("%s: want a non-empty array, got %v", path, got)}
		}
		for _, gv := range g {
			out = append(out, sameShape(path+"[]", w[0], gv)...)
		}
	default:
		if fmt.Sprintf("%T", want) != fmt.Sprintf("%T", got) {
			out = append(out, fmt.Sprintf("%s: want a %T like %v, got %v", path, want, want, got))
		}
	}
	return out
}

// inEnums lists values outside Statuspage's enums.
func inEnums(path string, v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, sub := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			out = append(out, inEnums(p, sub)...)
		}
	case []any:
		for _, sub := range x {
			out = append(out, inEnums(path+"[]", sub)...)
		}
	case string:
		if enum, ok := spEnums[path]; ok && !slices.Contains(enum, x) {
			out = append(out, fmt.Sprintf("%s = %q, not one of %v", path, x, enum))
		}
	}
	return out
}
