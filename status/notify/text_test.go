package notify

import (
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
)

// A post about a component's change says what it was only when it had a
// status: one without data before was not "operational".
func TestComponentTextOldStatus(t *testing.T) {
	for _, tc := range []struct {
		old  status.ComponentStatus
		want string
	}{
		{"", "Database is now major outage."},
		{status.Operational, "Database is now major outage (was operational)."},
	} {
		d := Data("Acme", "https://status.example.com", status.Event{ID: "evt-1", Type: status.ComponentStatusChanged, At: time.Unix(0, 0),
			Component: &status.ComponentEvent{ID: "db", Name: "Database", OldStatus: tc.old, NewStatus: status.MajorOutage}}, false)
		if d.Body != tc.want {
			t.Errorf("old %q: body %q, want %q", tc.old, d.Body, tc.want)
		}
	}
}
