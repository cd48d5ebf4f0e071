package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
)

// freePort is a loopback address free now, for a listener a node opens
// later. It is drawn below Linux's ephemeral range (32768–60999): a port
// the kernel handed out for ":0" is as likely to be handed out again, as
// another test's listener or as the source port of an outgoing
// connection, in the moment before the node binds it (CI failed once on
// TestHeartbeatTakenByAnyMember: "bind: address already in use"). This
// package draws from 29000–32767, its own part (see cmd/outpost's
// listenLow).
func freePort(t *testing.T) string {
	t.Helper()
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", 29000+rand.IntN(3768))
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			return addr
		}
	}
	t.Fatal("no free port below the ephemeral range in 100 tries")
	return ""
}

// One constructor builds a whole node from a config; it listens, probes,
// commits through its log and serves the page, and a cancelled context
// stops it cleanly, the data file closed and reusable.
func TestNodeBuildsRunsAndStops(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer target.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`
site: {title: Node Test}
listen: %s
operators: {listen: %s}
components: [{id: shop, name: Shop}]
checks:
  - {name: shop-home, component: shop, kind: http, target: "%s/", interval: 1s, failure_threshold: 1, success_threshold: 1}
`, freePort(t), freePort(t), target.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	beats := probes.NewBeats(nil)
	cfg, err := config.Load(path, config.LoadOptions{Probe: probes.Options{Beats: beats}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(Options{ConfigPath: path, Config: cfg, Beats: beats, Logger: slog.New(slog.DiscardHandler), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Listen(); err != nil {
		n.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	base := "http://" + n.Addr().String()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(base + "/api/v1/status")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), `"operational"`) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node never showed the shop operational (last error %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("a clean stop returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the node did not stop")
	}
	n.Close()
	st, err := store.Open(cfg.Storage.Path, store.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("the data file after a stop: %v", err)
	}
	defer st.Close()
	if st.LastCommit().IsZero() {
		t.Error("the node committed nothing")
	}
}

// /api/v1/health's outbox ages are on the node's clock: an announcement
// waiting since t0 is an hour old when the node's clock reads t0+1h,
// whatever the wall clock says.
func TestHealthDetailsReadTheNodeClock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	data := filepath.Join(dir, "outpost.db")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`
site: {title: Node Test}
listen: %s
storage: {path: %s}
components: [{id: shop, name: Shop}]
checks:
  - {name: shop-home, component: shop, kind: tcp, target: "%s", interval: 1m}
channels:
  - {name: ops, kind: slack, url: "http://127.0.0.1:9/hook"}
`, freePort(t), data, freePort(t))), 0o600); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	st, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ev := store.Announcement{Event: status.Event{ID: "evt-1", Type: status.MonitorDelayed, At: t0, Text: "delayed"}, Dests: []store.Dest{{Name: "ops"}}}
	if _, err := st.Apply(store.Entry{At: t0, Announce: []store.Announcement{ev}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	cfg, err := config.Load(path, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(Options{ConfigPath: path, Config: cfg, Beats: probes.NewBeats(nil), Logger: slog.New(slog.DiscardHandler), Version: "test",
		Now: func() time.Time { return t0.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	got := n.healthDetails().Outbox["ops"]
	if got.Pending != 1 || got.OldestAgeSeconds != 3600 {
		t.Fatalf("outbox ops: %+v, want 1 pending, 3600 s old", got)
	}
}
