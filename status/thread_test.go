package status

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// Every event of an incident names the incident's first event, and so does
// the incident's copy the step hands the store (what a restart reads), so
// a subscriber's mails of one incident answer its first mail even across
// restarts.
func TestIncidentEventsNameTheirFirstEvent(t *testing.T) {
	h := newHarness(t, testModel())
	ch := h.run("db-1", down, refu)
	i := slices.IndexFunc(ch.Events, func(ev Event) bool { return ev.Type == IncidentCreated })
	if i < 0 {
		t.Fatalf("events %v, want incident.created", eventTypes(ch))
	}
	first := ch.Events[i].ID
	if got := ch.Events[i].Incident.FirstEvent; got != first {
		t.Errorf("incident.created's incident names first event %q, want its own id %q", got, first)
	}
	if len(ch.Incidents) != 1 || ch.Incidents[0].FirstEvent != first {
		t.Fatalf("the step's copy of the incident (what the store keeps): %+v, want first event %q", ch.Incidents, first)
	}
	id := ch.Incidents[0].ID
	stored := ch.Incidents[0].Clone()
	b, err := json.Marshal(h.e.State())
	var st State
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		t.Fatal(err)
	}
	st.Incidents[id] = stored // the incident as a restarted engine reads it
	h.e.Restore(&st)
	h.now = h.now.Add(time.Second)
	ch = h.e.Apply(Batch{Now: h.now, Commands: []Command{
		{Kind: UpdateIncident, IncidentID: id, Status: Identified, Body: "A bad deploy."},
		{Kind: UpdateIncident, IncidentID: id, Status: Resolved, Body: "Rolled back."},
	}})
	if len(ch.Events) != 2 {
		t.Fatalf("events %v, want an update and a resolution", eventTypes(ch))
	}
	for _, ev := range ch.Events {
		if ev.ID == first || ev.Incident.FirstEvent != first {
			t.Errorf("%s %s names first event %q, want %q", ev.Type, ev.ID, ev.Incident.FirstEvent, first)
		}
	}
}
