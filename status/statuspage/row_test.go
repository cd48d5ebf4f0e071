package statuspage

import (
	"reflect"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
)

func TestNewRow(t *testing.T) {
	day := func(st status.ComponentStatus, pct float64, incidents int) status.DayView {
		return status.DayView{Status: st, Percent: pct, Incidents: incidents}
	}
	up := day(status.Operational, 1, 0)
	for _, tc := range []struct {
		name       string
		comp       status.ComponentView
		days       []status.DayView
		pct        float64
		wantUptime string
		wantText   string
		want       []DayRun
	}{
		{name: "no history", comp: status.ComponentView{Status: status.Operational, NoData: true}, pct: -1,
			wantUptime: "No data yet", wantText: "No data yet"},
		{name: "green days are one run", comp: status.ComponentView{Status: status.Operational},
			days: []status.DayView{up, up, up}, pct: 1, wantUptime: "100% uptime", wantText: "Operational",
			want: []DayRun{{First: 0, Last: 2, Class: "o", Text: "100% uptime"}}},
		{name: "no data, an incident day alone, and uptimes that read the same", comp: status.ComponentView{Status: status.MajorOutage},
			days: []status.DayView{day("", -1, 0), day("", -1, 0), day(status.MajorOutage, 0.5, 1), day(status.MajorOutage, 0.5, 1),
				day(status.DegradedPerformance, 0.99991, 0), day(status.DegradedPerformance, 0.99995, 0), up},
			pct: 0.8, wantUptime: "80.00% uptime", wantText: "Major outage",
			want: []DayRun{{First: 0, Last: 1, Class: "nd", Text: "no data"},
				{First: 2, Last: 2, Class: "mo", Text: "50.00% uptime", Incidents: 1},
				{First: 3, Last: 3, Class: "mo", Text: "50.00% uptime", Incidents: 1},
				{First: 4, Last: 5, Class: "dg", Text: "99.99% uptime"},
				{First: 6, Last: 6, Class: "o", Text: "100% uptime"}}},
		{name: "stale says so", comp: status.ComponentView{Status: status.Operational, Stale: true},
			days: []status.DayView{up}, pct: 1, wantUptime: "100% uptime", wantText: "No recent data",
			want: []DayRun{{First: 0, Last: 0, Class: "o", Text: "100% uptime"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.days {
				tc.days[i].Date = time.Date(2026, 11, 1+i, 0, 0, 0, 0, time.UTC)
			}
			r := NewRow(tc.comp, status.UptimeView{Days: tc.days, Percent: tc.pct})
			if r.Uptime != tc.wantUptime || r.Text != tc.wantText {
				t.Errorf("uptime %q, text %q; want %q, %q", r.Uptime, r.Text, tc.wantUptime, tc.wantText)
			}
			if !reflect.DeepEqual(r.Runs, tc.want) {
				t.Errorf("runs\n got %+v\nwant %+v", r.Runs, tc.want)
			}
		})
	}
}

func TestPercent(t *testing.T) {
	for in, want := range map[float64]string{1: "100%", 0.99999: "99.99%", 0.9999: "99.99%", 0.99989: "99.99%", 0.5: "50.00%", 0: "0.00%"} {
		if got := Percent(in); got != want {
			t.Errorf("Percent(%v) = %q, want %q", in, got, want)
		}
	}
}
