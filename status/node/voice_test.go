package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/cluster"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/webhook"
)

// voiceNodes builds three in-process cluster members on loopback, each
// running until the test ends; checks are added to the config's checks
// and extra to its top level (either may use ${OUTPOST_NODE}). It
// returns the running nodes.
func voiceNodes(t *testing.T, checks, extra string) []*Node {
	t.Helper()
	ids := []string{"ams", "nyc", "sgp"}
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	if _, err := cluster.WriteCerts(cluster.CertOptions{Dir: certs, Nodes: ids, Days: 30, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var members []string
	for i, id := range ids {
		members = append(members, fmt.Sprintf("    - {id: %s, address: %q, location: loc-%d}", id, freePort(t), i))
	}
	// The check's target answers: a check that failed would open a real
	// incident whose announcements reach a test's subscriber beside the
	// event the test counts (with the vote, one round confirms it within
	// a second of a location's first run: a CI run got 3 requests for 2
	// deliveries in TestDeposedLeaderSendsNoWebhook).
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Close() })
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	var nodes []*Node
	var stops []func()
	for _, id := range ids {
		src := fmt.Sprintf(`site: {title: One Voice, url: "https://status.example.com"}
listen: %s
operators: {listen: %s}
storage: {path: %q}
components: [{id: api, name: API}]
checks:
  - {name: api-1, component: api, kind: tcp, target: %q, interval: 1m}
%scluster:
  nodes:
%s
  tls: {ca_file: %q, cert_file: "%s/${OUTPOST_NODE}.pem", key_file: "%s/${OUTPOST_NODE}-key.pem"}
%s`, freePort(t), freePort(t), filepath.Join(dir, id, "outpost.db"), target.Addr().String(), checks, strings.Join(members, "\n"),
			filepath.Join(certs, "ca.pem"), certs, certs, extra)
		lookup := func(k string) (string, bool) { return id, k == config.NodeEnv }
		beats := probes.NewBeats(nil)
		cfg, err := config.Parse(filepath.Join(dir, "config.yaml"), []byte(src), config.LoadOptions{Lookup: lookup, Probe: probes.Options{Beats: beats}})
		if err != nil {
			t.Fatal(err)
		}
		n, stop := startNode(t, cfg, beats)
		nodes, stops = append(nodes, n), append(stops, stop)
	}
	t.Cleanup(func() { // all at once: a member left alone waits out its writes' bound
		var wg sync.WaitGroup
		for _, stop := range stops {
			wg.Go(stop)
		}
		wg.Wait()
	})
	return nodes
}

// startNode builds, listens and runs a node until stop (or the test's end).
func startNode(t *testing.T, cfg *config.Config, beats *probes.Beats) (*Node, func()) {
	t.Helper()
	n, err := New(Options{Config: cfg, Beats: beats, Logger: slog.New(slog.DiscardHandler), Version: "test"})
	if err == nil {
		err = n.Listen()
	}
	if err != nil {
		n.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Error("the node did not stop within 30 s")
			}
			n.Close()
		})
	}
	t.Cleanup(stop)
	return n, stop
}

// leaderOf is the member that leads (nil while none does).
func leaderOf(nodes []*Node) *Node {
	for _, n := range nodes {
		if n.cl.IsLeader() {
			return n
		}
	}
	return nil
}

// hookCounter is a webhook receiver: it echoes challenges, counts every
// event request by its webhook-id, and holds the first event's answer
// until a second request for it arrives or hold passes, so two senders
// of one delivery overlap.
type hookCounter struct {
	srv  *httptest.Server
	hold time.Duration

	mu     sync.Mutex
	counts map[string]int
	again  chan struct{} // closed when any id arrives a second time
}

func newHookCounter(t *testing.T, hold time.Duration) *hookCounter {
	h := &hookCounter{hold: hold, counts: map[string]int{}, again: make(chan struct{})}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookCounter) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var env struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	_ = json.Unmarshal(body, &env)
	if env.Type == "subscription.verify" {
		_ = json.NewEncoder(w).Encode(map[string]any{"challenge": env.Data["challenge"]})
		return
	}
	id := r.Header.Get("webhook-id")
	h.mu.Lock()
	h.counts[id]++
	n := h.counts[id]
	if n == 2 {
		close(h.again)
	}
	h.mu.Unlock()
	if n == 1 {
		select {
		case <-h.again:
		case <-time.After(h.hold):
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// total is how many event requests arrived, and for how many ids.
func (h *hookCounter) total() (requests, ids int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range h.counts {
		requests += n
	}
	return requests, len(h.counts)
}

// A leader deposed while it delivers to webhook subscribers sends
// nothing more: its delivery loops stop at once (raft's leadership
// notification, not a poll), and a claim it still makes carries its
// ended term and is refused by the cluster. The new leader delivers the
// announcement, once.
func TestDeposedLeaderSendsNoWebhook(t *testing.T) {
	nodes := voiceNodes(t, "", "webhooks: {enabled: true, allow_http: true, allow_private_targets: true}\n")
	var old *Node
	waitFor(t, "leader", 30*time.Second, func() bool { old = leaderOf(nodes); return old != nil })
	rcv := newHookCounter(t, 3*time.Second)
	created, err := old.wh.Subscribe(webhook.Request{URL: rcv.srv.URL + "/hook"}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the subscription verified on every member", 20*time.Second, func() bool {
		for _, n := range nodes {
			if s, err := n.st.Subscription(created.ID); err != nil || s.State != store.SubActive {
				return false
			}
		}
		return true
	})
	if err := old.cl.HandOver(""); err != nil {
		t.Fatal(err)
	}
	// At once, from the deposed member: its store announces it to its loops.
	ev := status.Event{ID: "evt-1", Type: status.IncidentCreated, At: time.Now().UTC(),
		Incident: &status.Incident{ID: "inc-1", Name: "API down", Status: status.Investigating, Impact: status.ImpactMajor}}
	if _, err := old.changes.Apply(store.Entry{At: ev.At, Announce: []store.Announcement{{Event: ev, Dests: []store.Dest{{Name: store.WebhooksDest}}}}}); err != nil {
		t.Fatal(err)
	}
	var next *Node
	waitFor(t, "the announcement delivered and recorded on every member", 30*time.Second, func() bool {
		if next = leaderOf(nodes); next == nil || next == old {
			return false
		}
		if n, _ := rcv.total(); n == 0 {
			return false
		}
		for _, n := range nodes {
			if open, err := n.st.OpenDeliveries(store.KindWebhook, 0, 10); err != nil || len(open) > 0 {
				return false
			}
		}
		return true
	})
	if requests, ids := rcv.total(); requests != 1 || ids != 1 {
		t.Fatalf("the subscriber got %d requests for %d deliveries, want 1 for 1 (the deposed leader sent too)", requests, ids)
	}
}
