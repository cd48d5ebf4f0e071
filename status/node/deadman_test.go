package node

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/config"
)

func TestDeadman(t *testing.T) {
	var pings atomic.Int32
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pings.Add(1)
		if r.Method != http.MethodPost || r.UserAgent() != "Outpost/test" {
			t.Errorf("ping %s %q", r.Method, r.UserAgent())
		}
		if fail.Load() {
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	var healthy atomic.Bool
	healthy.Store(true)
	var mu sync.Mutex
	counts := map[string]int{}
	d := &deadman{cfg: config.Deadman{URL: srv.URL, Interval: 20 * time.Millisecond, Method: "POST", Timeout: time.Second},
		healthy: func() (bool, string) { return healthy.Load(), "scheduler has not fired" },
		count:   func(r string) { mu.Lock(); counts[r]++; mu.Unlock() },
		log:     slog.New(slog.DiscardHandler), hc: http.DefaultClient, agent: "Outpost/test"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	get := func(r string) int { mu.Lock(); defer mu.Unlock(); return counts[r] }
	until := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (%v)", what, counts)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	until("pings while healthy", func() bool { return get("ok") >= 3 })
	healthy.Store(false) // a wedged Outpost goes silent
	until("skips while unhealthy", func() bool { return get("skipped") >= 2 })
	before := pings.Load()
	until("more skips", func() bool { return get("skipped") >= 4 })
	if pings.Load() != before {
		t.Error("pinged while unhealthy")
	}
	healthy.Store(true)
	fail.Store(true) // the service errs: counted, never fatal
	until("failed pings counted", func() bool { return get("failed") >= 2 })
}
