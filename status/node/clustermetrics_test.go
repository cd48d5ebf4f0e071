package node

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/cluster"
	"github.com/outpost-status/outpost/status/config"
)

// scrape reads one series' value from a /metrics body (the first line
// that starts with series, labels included); ok is false when absent.
func scrape(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if rest, found := strings.CutPrefix(line, series+" "); found {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// clusterNodes builds three in-process cluster members on loopback, each
// with its operators' listener, running until the test ends.
func clusterNodes(t *testing.T, days int) []string {
	t.Helper()
	ids := []string{"ams", "nyc", "sgp"}
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	if _, err := cluster.WriteCerts(cluster.CertOptions{Dir: certs, Nodes: ids, Days: days, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var members []string
	for i, id := range ids {
		members = append(members, fmt.Sprintf("    - {id: %s, address: %q, location: loc-%d}", id, freePort(t), i))
	}
	var ops []string
	var stops []func()
	for _, id := range ids {
		op := freePort(t)
		ops = append(ops, op)
		src := fmt.Sprintf(`site: {title: Cluster Metrics}
listen: %s
operators: {listen: %s}
storage: {path: %q}
components: [{id: api, name: API}]
checks:
  - {name: api-1, component: api, kind: tcp, target: %q, interval: 1m}
cluster:
  nodes:
%s
  tls: {ca_file: %q, cert_file: "%s/${OUTPOST_NODE}.pem", key_file: "%s/${OUTPOST_NODE}-key.pem"}
`, freePort(t), op, filepath.Join(dir, id, "outpost.db"), freePort(t), strings.Join(members, "\n"),
			filepath.Join(certs, "ca.pem"), certs, certs)
		lookup := func(k string) (string, bool) { return id, k == config.NodeEnv }
		cfg, err := config.Parse(filepath.Join(dir, "config.yaml"), []byte(src), config.LoadOptions{Lookup: lookup})
		if err != nil {
			t.Fatal(err)
		}
		stops = append(stops, runNode(t, cfg))
	}
	// All at once: a member stopped after the others has lost its quorum
	// and waits out its writes' bound before it ends.
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, stop := range stops {
			wg.Go(stop)
		}
		wg.Wait()
	})
	return ops
}

// runNode builds, listens and runs a node (startNode); stop cancels it and
// waits for it to end.
func runNode(t *testing.T, cfg *config.Config) (stop func()) {
	t.Helper()
	_, stop = startNode(t, cfg, probes.NewBeats(nil))
	return stop
}

func metricsOf(t *testing.T, ops string) string {
	t.Helper()
	resp, err := http.Get("http://" + ops + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<22))
	return string(b)
}

// A cluster member's /metrics has raft's figures and the certificates'
// ends: one leader among three, two peers each, the same term, indexes
// that moved, the leader's last contact 0, and the node certificate's
// and the CA's end as made.
func TestClusterMetrics(t *testing.T) {
	ops := clusterNodes(t, 30)
	deadline := time.Now().Add(30 * time.Second)
	var bodies []string
	for {
		bodies = bodies[:0]
		leaders, applied := 0, 0
		for _, op := range ops {
			b := metricsOf(t, op)
			bodies = append(bodies, b)
			if v, _ := scrape(b, `outpost_cluster_raft_state{state="Leader"}`); v == 1 {
				leaders++
			}
			if v, _ := scrape(b, "outpost_cluster_raft_applied_index"); v >= 1 {
				applied++
			}
		}
		// Followers learn of the first commit a heartbeat after the leader.
		if leaders == 1 && applied == len(ops) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no one leader with every member applying within 30 s (leaders %d, applying %d; outpost_cluster_raft_state present: %v)",
				leaders, applied, strings.Contains(bodies[0], "outpost_cluster_raft_state"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	want := time.Now().Add(30 * 24 * time.Hour).Unix()
	var term float64
	for i, b := range bodies {
		for _, s := range []struct {
			series string
			ok     func(float64) bool
		}{
			{"outpost_cluster_raft_term", func(v float64) bool { return v >= 1 && (term == 0 || v == term) }},
			{"outpost_cluster_raft_commit_index", func(v float64) bool { return v >= 1 }},
			{"outpost_cluster_raft_applied_index", func(v float64) bool { return v >= 1 }},
			{"outpost_cluster_raft_last_log_index", func(v float64) bool { return v >= 1 }},
			{"outpost_cluster_raft_peers", func(v float64) bool { return v == 2 }},
			{"outpost_cluster_raft_fsm_pending", func(v float64) bool { return v >= 0 }},
			{"outpost_cluster_raft_last_contact_seconds", func(v float64) bool { return v >= 0 && v < 30 }},
			{`outpost_cluster_certificate_expiry_timestamp_seconds{certificate="node",subject=""}`,
				func(v float64) bool { return v > float64(want-3600) && v < float64(want+3600) }},
		} {
			v, found := scrape(b, s.series)
			if !found || !s.ok(v) {
				t.Errorf("member %d: %s = %v (present %v), not sane", i, s.series, v, found)
			}
			if s.series == "outpost_cluster_raft_term" {
				term = v
			}
		}
		if !strings.Contains(b, `outpost_cluster_certificate_expiry_timestamp_seconds{certificate="ca",subject="`) {
			t.Errorf("member %d: no CA expiry series", i)
		}
		if v, _ := scrape(b, `outpost_cluster_raft_state{state="Leader"}`); v == 1 {
			if c, _ := scrape(b, "outpost_cluster_raft_last_contact_seconds"); c != 0 {
				t.Errorf("the leader's last contact = %v, want 0", c)
			}
		}
	}
}

// A single node (no cluster section) has none of the cluster series.
func TestSingleNodeHasNoClusterMetrics(t *testing.T) {
	dir := t.TempDir()
	ops := freePort(t)
	cfg, err := config.Parse(filepath.Join(dir, "config.yaml"), []byte(fmt.Sprintf(`site: {title: Single}
listen: %s
operators: {listen: %s}
storage: {path: %q}
components: [{id: api, name: API}]
checks:
  - {name: api-1, component: api, kind: tcp, target: %q, interval: 1m}
`, freePort(t), ops, filepath.Join(dir, "outpost.db"), freePort(t))), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runNode(t, cfg)
	deadline := time.Now().Add(15 * time.Second)
	body := metricsOf(t, ops)
	for !strings.Contains(body, "outpost_build_info") {
		if time.Now().After(deadline) {
			t.Fatal("no /metrics within 15 s")
		}
		time.Sleep(50 * time.Millisecond)
		body = metricsOf(t, ops)
	}
	if strings.Contains(body, "outpost_cluster_") {
		t.Fatalf("a single node shows cluster series:\n%s", body)
	}
}
