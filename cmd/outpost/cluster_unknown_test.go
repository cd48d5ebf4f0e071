package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// quietCluster writes certificates and a config for members ids with no
// checks (so nothing writes but what a test sends) and an admin token,
// and starts them.
func quietCluster(t *testing.T, dir string, ids ...string) []*clusterProc {
	t.Helper()
	if code, _, errs := runBinary(t, nil, "cluster", "certs", "-out", filepath.Join(dir, "cluster"), "-nodes", strings.Join(ids, ",")); code != exitOK {
		t.Fatalf("certs: %s", errs)
	}
	addrs := closedAddrs(t, 3*len(ids))
	var members []string
	for i, id := range ids {
		members = append(members, fmt.Sprintf("    - {id: %s, address: %q, location: loc-%d}", id, addrs[i], i))
	}
	path := filepath.Join(dir, "config.yaml")
	certs := filepath.Join(dir, "cluster")
	t.Setenv("OUTPOST_TEST_OPS_TOKEN", opsToken)
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`
site: {title: Quiet, url: "https://status.example.com"}
listen: "${LISTEN}"
operators: {listen: "${OPS}"}
storage: {path: "${DATA}/outpost.db"}
components: [{id: shop, name: Shop}]
checks: []
admin:
  tokens: [{name: oncall, token: "${OUTPOST_TEST_OPS_TOKEN}"}]
cluster:
  nodes:
%s
  tls: {ca_file: %q, cert_file: "%s/${OUTPOST_NODE}.pem", key_file: "%s/${OUTPOST_NODE}-key.pem"}
`, strings.Join(members, "\n"), filepath.Join(certs, "ca.pem"), certs, certs)), 0o600); err != nil {
		t.Fatal(err)
	}
	var nodes []*clusterProc
	for i, id := range ids {
		nodes = append(nodes, startClusterNode(t, path, id, addrs[len(ids)+i], addrs[2*len(ids)+i], filepath.Join(dir, id)))
	}
	return nodes
}

// raftFigure reads one of raft's series from the member's /metrics.
func (p *clusterProc) raftFigure(series string) int {
	_, body := getURL(p.ops + "/metrics")
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			fmt.Sscan(rest, &v)
			return int(v)
		}
	}
	return -1
}

// An incident opened through a follower while the leader holds it
// uncommitted (three of five members stopped), and the leader then
// SIGKILLed: the follower is never told "nothing changed" for a change
// the cluster makes. The follower, the one member whose log holds the
// command, becomes the leader once two stopped members return, commits
// it, and its resend under the same key is skipped: the answer says the
// change was made (504, look it up), and there is one incident.
func TestCommandOfAKilledLeaderIsNeverToldNothingChanged(t *testing.T) {
	dir := t.TempDir()
	nodes := quietCluster(t, dir, "ams", "nyc", "sgp", "fra", "syd")
	var leader *clusterProc
	until(t, time.Now().Add(40*time.Second), nodes, "a leader, every member following it", func() bool {
		leader = leaderOf(nodes)
		if leader == nil {
			return false
		}
		for _, p := range nodes {
			if l, _ := p.clusterView(); l != leader.id {
				return false
			}
		}
		// The leader's first entries (its site key, the model) committed.
		last := leader.raftFigure("outpost_cluster_raft_last_log_index")
		return strings.Contains(leader.log(), "the cluster's model is this leader's") && last == leader.raftFigure("outpost_cluster_raft_commit_index")
	})
	var follower *clusterProc
	var stopped []*clusterProc
	for _, p := range nodes {
		switch {
		case p == leader:
		case follower == nil:
			follower = p
		default:
			stopped = append(stopped, p)
		}
	}
	for _, p := range stopped { // the leader can commit nothing more
		_ = p.cmd.Process.Signal(syscall.SIGSTOP)
	}
	t.Cleanup(func() {
		for _, p := range stopped {
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
		}
	})
	type answer struct {
		code int
		body string
	}
	answered := make(chan answer, 1)
	go func() {
		code, body := request(t, "POST", follower.base+"/api/v1/incidents", opsToken, `{"name":"Payments down","message":"Looking into it"}`)
		answered <- answer{code, body}
	}()
	// Nothing else writes: the entry past the leader's commit index
	// (which cannot move now) in the follower's log is the command.
	committed := leader.raftFigure("outpost_cluster_raft_commit_index")
	until(t, time.Now().Add(10*time.Second), nodes, "the command in the follower's log, uncommitted", func() bool {
		return follower.raftFigure("outpost_cluster_raft_last_log_index") > committed
	})
	_ = leader.cmd.Process.Signal(syscall.SIGKILL)
	_ = leader.cmd.Wait()
	for _, p := range stopped[:2] {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
	}
	var a answer
	select {
	case a = <-answered:
	case <-time.After(40 * time.Second):
		t.Fatal("no answer within 40 s")
	}
	live := []*clusterProc{follower, stopped[0], stopped[1]}
	var incidents string
	until(t, time.Now().Add(30*time.Second), live, "the members agreeing on the incidents", func() bool {
		code, a := live[0].get("/api/v2/incidents.json")
		_, b := live[1].get("/api/v2/incidents.json")
		_, c := live[2].get("/api/v2/incidents.json")
		incidents = a
		return code == http.StatusOK && a == b && a == c
	})
	made := strings.Count(incidents, `"Payments down"`)
	t.Logf("answered %d %s; incidents named so: %d", a.code, strings.TrimSpace(a.body), made)
	if made != 1 {
		t.Fatalf("%d incidents named so, want one (the follower, holding the command, leads and commits it)", made)
	}
	if strings.Contains(a.body, "nothing changed") || (a.code != http.StatusCreated && a.code != http.StatusGatewayTimeout) {
		t.Fatalf("told %d %s, but the cluster made it", a.code, strings.TrimSpace(a.body))
	}
}

// An admin write sent to a follower: its answer comes once the follower's
// own page shows it (read-your-writes), and every member's page shows it
// within a moment of that answer.
func TestAdminWriteOnAFollowerReachesEveryPage(t *testing.T) {
	nodes := quietCluster(t, t.TempDir(), "ams", "nyc", "sgp")
	var follower *clusterProc
	until(t, time.Now().Add(40*time.Second), nodes, "a leader and a follower", func() bool {
		leader := leaderOf(nodes)
		for _, p := range nodes {
			if leader != nil && p != leader {
				follower = p
				return true
			}
		}
		return false
	})
	code, body := request(t, "POST", follower.base+"/api/v1/incidents", opsToken, `{"name":"Payments down","message":"Looking into it"}`)
	if code != http.StatusCreated {
		t.Fatalf("the follower answered %d: %s", code, body)
	}
	if _, page := follower.get("/"); !strings.Contains(page, "Payments down") {
		t.Fatal("the follower answered before its own page showed the incident")
	}
	until(t, time.Now().Add(5*time.Second), nodes, "every page showing the incident", func() bool {
		for _, p := range nodes {
			if _, page := p.get("/"); !strings.Contains(page, "Payments down") {
				return false
			}
		}
		return true
	})
}
