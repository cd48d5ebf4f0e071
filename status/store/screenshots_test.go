package store

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
)

// A failed browser run's screenshot is kept in the local file under the
// check and the run's time (the entry carries only that there is one); a
// check keeps its last ShotsKept, and pruning the raw results takes old
// ones.
func TestScreenshotsKeptAndPruned(t *testing.T) {
	s, _ := openTemp(t)
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for i := range 7 {
		at := t0.Add(time.Duration(i) * time.Minute)
		r := status.CheckResult{Check: "login", At: at, Result: probes.Result{Outcome: probes.Down, Reason: probes.ReasonTimeout,
			Screenshot: []byte(fmt.Sprintf("\x89PNG shot %d", i))}}
		if err := s.PutScreenshot(r.Check, r.At, r.Result.Screenshot); err != nil {
			t.Fatal(err)
		}
		if err := step(s, &status.Changes{Results: []status.CheckResult{r}}, status.NewState(), nil, at); err != nil {
			t.Fatal(err)
		}
	}
	shots, err := s.Screenshots("login")
	if err != nil || len(shots) != ShotsKept || !shots[0].At.Equal(t0.Add(6*time.Minute)) || !shots[4].At.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("kept %+v %v", shots, err)
	}
	png, err := s.ScreenshotAt("login", shots[0].At)
	if err != nil || !bytes.Equal(png, []byte("\x89PNG shot 6")) {
		t.Fatalf("newest: %q %v", png, err)
	}
	if _, err := s.ScreenshotAt("login", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("a dropped screenshot: %v", err)
	}
	if _, err := s.ScreenshotAt("nope", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown check: %v", err)
	}
	if _, err := s.Apply(Entry{At: t0.Add(48*time.Hour + 4*time.Minute), Prune: &Prune{RawRetention: 48 * time.Hour, Budget: 1000}}); err != nil {
		t.Fatal(err)
	}
	if shots, _ := s.Screenshots("login"); len(shots) != 3 || !shots[2].At.Equal(t0.Add(4*time.Minute)) {
		t.Errorf("after pruning: %+v", shots)
	}
}
