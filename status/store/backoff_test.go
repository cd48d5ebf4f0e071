package store

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	s := time.Second
	steps := []time.Duration{5 * s, 5 * time.Minute, 30 * time.Minute}
	for _, tc := range []struct {
		name       string
		b          Backoff
		attempts   int
		retryAfter time.Duration
		jitter     float64
		want       time.Duration
		ok         bool
	}{
		{"first failure: first step", Backoff{Steps: steps}, 1, 0, 0, 5 * s, true},
		{"third failure: third step", Backoff{Steps: steps}, 3, 0, 1, 30 * time.Minute, true},
		{"steps run out: none left", Backoff{Steps: steps}, 4, 0, 0, 0, false},
		{"steps run out: the last again when repeating", Backoff{Steps: steps, Repeat: true}, 9, 0, 0, 30 * time.Minute, true},
		{"jitter stretches the step", Backoff{Steps: steps}, 1, 0, 1.2, 6 * s, true},
		{"Retry-After replaces the step", Backoff{Steps: steps}, 1, 90 * s, 1.2, 90 * s, true},
		{"Retry-After is capped at a day", Backoff{Steps: steps}, 1, 72 * time.Hour, 0, MaxRetryAfter, true},
		{"Retry-After gives no attempt past the steps", Backoff{Steps: steps}, 4, 90 * s, 0, 0, false},
		{"no steps: no retry", Backoff{Repeat: true}, 1, 0, 0, 0, false},
	} {
		got, ok := tc.b.Next(tc.attempts, tc.retryAfter, tc.jitter)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: Next = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
