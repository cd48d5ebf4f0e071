package monitor

import (
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
)

// Equal histories share one slice; a different one keeps its own.
func TestInternSharesEqualHistories(t *testing.T) {
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	green := func(pct float64) []status.DayView {
		var out []status.DayView
		for i := range 90 {
			out = append(out, status.DayView{Date: day.AddDate(0, 0, i-89), Status: status.Operational, Percent: pct})
		}
		return out
	}
	in := newInterner[status.DayView]()
	a, b, c := in.intern(green(1)), in.intern(green(1)), in.intern(green(0.5))
	if &a[0] != &b[0] {
		t.Error("two equal histories are two slices")
	}
	if &a[0] == &c[0] || c[0].Percent != 0.5 {
		t.Error("a different history was replaced")
	}
	if got := in.intern(nil); got != nil {
		t.Errorf("nil became %v", got)
	}
}
