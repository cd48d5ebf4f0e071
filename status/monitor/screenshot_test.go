package monitor

import (
	"bytes"
	"testing"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
)

// A failed browser run's screenshot is kept by the node that ran it, in
// its local file under the check and the run's time, where the operators'
// API reads it; the step's entry carries only that there is one.
func TestStepKeepsTheScreenshotLocally(t *testing.T) {
	m, _, st, clk := setup(t)
	png := []byte("\x89PNG a failed run")
	r := status.CheckResult{Check: "api-1", At: clk.now, Result: probes.Result{Outcome: probes.Down, Reason: probes.ReasonTimeout, Screenshot: png}}
	if _, err := m.step(status.Batch{Now: clk.now, Results: []status.CheckResult{r}}); err != nil {
		t.Fatal(err)
	}
	shots, err := st.Screenshots("api-1")
	if err != nil || len(shots) != 1 || !shots[0].At.Equal(clk.now) {
		t.Fatalf("screenshots %+v (%v), want one at %s", shots, err, clk.now)
	}
	if got, err := st.ScreenshotAt("api-1", shots[0].At); err != nil || !bytes.Equal(got, png) {
		t.Fatalf("ScreenshotAt: %q (%v)", got, err)
	}
}
