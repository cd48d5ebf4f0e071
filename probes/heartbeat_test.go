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
