package notify

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want Verdict
	}{
		{"success", nil, Verdict{}},
		{"network", errors.New("connection refused"), Verdict{}},
		{"permanent", &PermanentError{Err: errors.New("HTTP 410")}, Verdict{Permanent: true}},
		{"wrapped permanent", fmt.Errorf("slack: %w", &PermanentError{Err: errors.New("HTTP 404")}), Verdict{Permanent: true}},
		{"retry after", &RetryAfterError{Err: errors.New("HTTP 429"), After: 30 * time.Second}, Verdict{RetryAfter: 30 * time.Second}},
		{"retry after, capped", &RetryAfterError{Err: errors.New("HTTP 429"), After: 90 * 24 * time.Hour}, Verdict{RetryAfter: MaxRetryAfter}},
		{"429 without a wait", &RetryAfterError{Err: errors.New("HTTP 429")}, Verdict{}},
	} {
		if got := Judge(tc.err); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// A host takes at most PerHost deliveries at once; a delivery is in
// flight from Take to Done, though its host's slot frees at FreeHost.
func TestSlots(t *testing.T) {
	s := &Slots{PerHost: 2}
	if !s.Take(1, "a") || !s.Take(2, "a") {
		t.Fatal("two slots on a host of two refused")
	}
	if s.Take(3, "a") || !s.Busy(3, "a") || s.Free("a") != 0 || s.Free("c") != 2 {
		t.Fatal("a third delivery to a full host was taken, or Free miscounts")
	}
	if full := s.Full(); len(full) != 1 || full[0] != "a" {
		t.Fatalf("full hosts %v, want [a]", full)
	}
	if !s.Take(3, "b") {
		t.Fatal("another host was refused")
	}
	s.FreeHost("a")
	if s.Busy(4, "a") || !s.Busy(1, "") || s.Free("a") != 1 {
		t.Fatal("after FreeHost the host should have room, and delivery 1 still be in flight")
	}
	s.Done(1)
	if s.Busy(1, "") {
		t.Fatal("delivery 1 is in flight after Done")
	}
}

func TestDrain(t *testing.T) {
	ch := make(chan int, 4)
	ch <- 1
	ch <- 2
	ch <- 3
	if b, ok := Drain(ch); !ok || len(b) != 3 {
		t.Fatalf("drained %v %v, want the 3 waiting", b, ok)
	}
	ch <- 4
	close(ch)
	if b, ok := Drain(ch); !ok || len(b) != 1 {
		t.Fatalf("drained %v %v, want [4]", b, ok)
	}
	if _, ok := Drain(ch); ok {
		t.Fatal("a closed, empty channel drained")
	}
}

func TestWaker(t *testing.T) {
	w := NewWaker()
	w.Wake()
	w.Wake() // never blocks
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() { done <- w.Sleep(ctx, time.Hour) }()
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("a woken sleep reported ctx done")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a pending wake-up did not end the sleep")
	}
	go func() { done <- w.Sleep(ctx, time.Hour) }()
	cancel()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("a cancelled sleep reported ok")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelling did not end the sleep")
	}
}

// The channels' rule as it was before it became a store.Backoff: 2 s
// doubling per attempt, 10 min from the tenth on, for as long as the
// channel's max_age allows.
func TestChannelBackoff(t *testing.T) {
	b := ChannelBackoff()
	for attempts, want := range map[int]time.Duration{1: 2 * time.Second, 2: 4 * time.Second, 9: 512 * time.Second,
		10: 10 * time.Minute, 50: 10 * time.Minute} {
		if got, ok := b.Next(attempts, 0, 1); got != want || !ok {
			t.Errorf("after %d attempts: %v, %v; want %v", attempts, got, ok, want)
		}
	}
}
