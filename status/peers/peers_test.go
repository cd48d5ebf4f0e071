package peers

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
)

const key = "shared-key-0123456789"

func TestPollVerifies(t *testing.T) {
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	healthy := true
	peerSide := Handler("eu", []config.Peer{{Name: "us", Key: key}}, func() (bool, string) { return healthy, "scheduler stalled" }, func() time.Time { return now })
	srv := httptest.NewServer(peerSide)
	defer srv.Close()
	reported := make(chan status.Event, 10)
	p := &Poller{Self: "us", Interval: time.Second, Failures: 2, Client: http.DefaultClient, Now: func() time.Time { return now },
		Log: slog.New(slog.DiscardHandler), Events: reported, bad: map[string]int{}, down: map[string]bool{}}
	good := config.Peer{Name: "eu", URL: srv.URL, Key: key}
	if err := p.check(context.Background(), good); err != nil {
		t.Fatalf("a healthy peer: %v", err)
	}
	for name, tc := range map[string]struct {
		peer config.Peer
		want string
	}{
		"wrong key":  {config.Peer{Name: "eu", URL: srv.URL, Key: "another-key-0123456789"}, "bad signature"},
		"wrong name": {config.Peer{Name: "ap", URL: srv.URL, Key: key}, "summary is for eu"},
	} {
		if err := p.check(context.Background(), tc.peer); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A replayed (old) summary is refused.
	p.Now = func() time.Time { return now.Add(5 * time.Minute) }
	if err := p.check(context.Background(), good); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Errorf("replay: %v", err)
	}
	p.Now = func() time.Time { return now }
	// Unhealthy twice → one peer_down; healthy → one peer_up.
	healthy = false
	for range 3 {
		p.observe(context.Background(), good, p.check(context.Background(), good))
	}
	healthy = true
	p.observe(context.Background(), good, p.check(context.Background(), good))
	close(reported)
	var events []status.Event
	for e := range reported {
		events = append(events, e)
	}
	if len(events) != 2 || events[0].Type != status.MonitorPeerDown || events[1].Type != status.MonitorPeerUp ||
		!strings.Contains(events[0].Text, "scheduler stalled") || !events[0].Type.OperatorsOnly() {
		t.Fatalf("events %+v", events)
	}
	// Someone who is not a peer gets nothing but a JSON error, labelled
	// as JSON like every /api error.
	resp, _ := http.Get(srv.URL + "/?from=stranger")
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("a stranger got %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
