package probes

import (
	"context"
	"testing"
	"time"
)

func TestHeartbeat(t *testing.T) {
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	beats := NewBeats(func() time.Time { return now })
	p := mustProbe(t, Spec{Kind: "heartbeat", Name: "nightly-backup", Period: time.Hour, Grace: 5 * time.Minute}, Options{Beats: beats})
	run := func() Result { return p.Run(context.Background()) }
	if r := run(); r.Outcome != Up {
		t.Fatalf("right after start: %s", r.Outcome)
	}
	now = now.Add(66 * time.Minute) // never pinged: period + grace passed
	if r := run(); r.Outcome != Down || r.Reason != ReasonMissedHeartbeat {
		t.Fatalf("missed: %s %s", r.Outcome, r.Reason)
	}
	beats.Beat("nightly-backup", false)
	<-beats.Ready()
	told := beats.Pending()
	if r := run(); r.Outcome != Up || len(told) != 1 {
		t.Fatalf("after a beat: %s, told %v", r.Outcome, told)
	}
	now = now.Add(time.Minute)
	beats.Beat("nightly-backup", true) // the job says it failed
	if r := run(); r.Outcome != Down || r.Reason != ReasonReportedFailure {
		t.Fatalf("reported failure: %s %s", r.Outcome, r.Reason)
	}
	now = now.Add(time.Minute)
	beats.Beat("nightly-backup", false)
	if r := run(); r.Outcome != Up {
		t.Fatal("a success after a failure is up again")
	}
	if _, err := New(Spec{Kind: "heartbeat", Name: "x"}, Options{}); err == nil {
		t.Error("a heartbeat without period was accepted")
	}
}

// A beat heard through a cluster's log counts once, only if newer than
// the one known, and not from before the registry started.
func TestBeatsHeard(t *testing.T) {
	t0 := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	b := NewBeats(func() time.Time { return t0 })
	for _, tc := range []struct {
		at     time.Time
		failed bool
		want   bool
	}{
		{t0.Add(-time.Minute), false, false}, // before the start
		{t0.Add(time.Second), false, true},
		{t0.Add(time.Second), false, false}, // the same beat again
		{t0.Add(time.Second), true, true},   // a failure is its own
		{t0.Add(2 * time.Second), false, true},
	} {
		if got := b.Heard("nightly", tc.at, tc.failed); got != tc.want {
			t.Errorf("Heard(%s, failed %v) = %v, want %v", tc.at, tc.failed, got, tc.want)
		}
	}
	if p := b.Pending(); len(p) != 1 || p[0] != "nightly" {
		t.Fatalf("pending %v", p)
	}
	if last, failed := b.get("nightly"); !last.Equal(t0.Add(2*time.Second)) || !failed.Equal(t0.Add(time.Second)) {
		t.Fatalf("last %s failed %s", last, failed)
	}
}
