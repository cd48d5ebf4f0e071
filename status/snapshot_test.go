package status

import (
	"testing"
	"time"
)

// A snapshot shown as delayed keeps the earliest delay it knows of and
// shows every component and group, members included, as having no recent
// data, whatever their last known status.
func TestSnapshotDelay(t *testing.T) {
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name          string
		already, want time.Time
	}{
		{"not delayed yet", time.Time{}, at},
		{"delayed earlier", at.Add(-time.Minute), at.Add(-time.Minute)},
		{"delayed later", at.Add(time.Minute), at},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ComponentView{ID: "api", Status: MajorOutage}
			s := &Snapshot{DelayedSince: tc.already, Components: []ComponentView{c, {ID: "db"}},
				Groups: []GroupView{{ID: "g", Status: MajorOutage, Components: []ComponentView{c}}}}
			s.Delay(at.In(time.FixedZone("JST", 9*3600)))
			if !s.DelayedSince.Equal(tc.want) || s.DelayedSince.Location() != time.UTC {
				t.Errorf("delayed since %v, want %v in UTC", s.DelayedSince, tc.want)
			}
			if !s.Components[0].Stale || !s.Components[1].Stale || !s.Groups[0].Stale || !s.Groups[0].Components[0].Stale {
				t.Errorf("something still fresh: %+v %+v", s.Components, s.Groups)
			}
			if s.Components[0].Status != MajorOutage {
				t.Errorf("the last known status changed: %s", s.Components[0].Status)
			}
		})
	}
}
