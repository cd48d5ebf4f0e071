package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `cluster status` shows where a member's cluster.nodes differs from
// raft's configuration, and a member the leader removed, in its table
// and in -json.
func TestClusterStatusShowsMembershipMismatch(t *testing.T) {
	ops := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"leader":"ams","nodes":[
 {"node":"ams","state":"Leader","codec":2,"mismatch":"in cluster.nodes but not in raft's configuration (or at another address): lon"},
 {"node":"nyc","state":"Follower","codec":2},
 {"node":"sgp","state":"Follower","codec":2,"removed":true}]}`))
	}))
	defer ops.Close()
	cfg := clusterConfig(t)
	body, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(body), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "operators:") {
			lines[i] = "operators: {listen: " + strings.TrimPrefix(ops.URL, "http://") + "}"
		}
	}
	if err := os.WriteFile(cfg, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runBinary(t, nil, "cluster", "status", "-config", cfg, "-node", "ams")
	for _, want := range []string{"ams: cluster.nodes and raft's configuration differ: in cluster.nodes but not in raft's configuration (or at another address): lon",
		"sgp: removed from the cluster by the leader: stop it"} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("cluster status: exit %d, no %q in:\n%s%s", code, want, out, errs)
		}
	}
	code, out, errs = runBinary(t, nil, "cluster", "status", "-config", cfg, "-node", "ams", "-json")
	if code != exitOK || !strings.Contains(out, `"mismatch": "in cluster.nodes but not`) || !strings.Contains(out, `"removed": true`) {
		t.Errorf("cluster status -json: exit %d:\n%s%s", code, out, errs)
	}
}

// `cluster seed` makes the data file the member's snapshot once, and
// refuses a second time (the member has raft state then).
func TestClusterSeedCommand(t *testing.T) {
	cfg := clusterConfig(t)
	code, out, errs := runBinary(t, nil, "cluster", "seed", "-config", cfg, "-node", "ams")
	if code != exitOK || !strings.Contains(out, "seeded: ") {
		t.Fatalf("cluster seed: exit %d:\n%s%s", code, out, errs)
	}
	snaps, _ := filepath.Glob(filepath.Join(filepath.Dir(cfg), "data", "outpost.db.raft", "snapshots", "*", "state.bin"))
	if len(snaps) != 1 {
		t.Fatalf("snapshots after the seed: %v", snaps)
	}
	code, _, errs = runBinary(t, nil, "cluster", "seed", "-config", cfg, "-node", "ams")
	if code != exitFailed || !strings.Contains(errs, "holds raft state already") {
		t.Fatalf("a second seed: exit %d: %s", code, errs)
	}
}
