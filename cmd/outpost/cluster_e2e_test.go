package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// clusterProc is one `outpost serve -node ID` of a cluster under test.
type clusterProc struct {
	id, base, ops string
	cmd           *exec.Cmd
	logs          *strings.Builder
	mu            *sync.Mutex
}

// startClusterNode starts serve for node id on the shared config, with its
// own listen, operators' listener and data folder through the environment.
func startClusterNode(t *testing.T, cfg, id, listen, ops, data string) *clusterProc {
	t.Helper()
	cmd := exec.Command(outpostBinary(t), "serve", "-config", cfg, "-node", id)
	cmd.Env = append(os.Environ(), "LISTEN="+listen, "OPS="+ops, "DATA="+data)
	stderr, _ := cmd.StderrPipe()
	p := &clusterProc{id: id, base: "http://" + listen, ops: "http://" + ops, cmd: cmd, logs: &strings.Builder{}, mu: &sync.Mutex{}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return p
}

func (p *clusterProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func (p *clusterProc) get(path string) (int, string) {
	r, err := http.Get(p.base + path)
	if err != nil {
		return 0, err.Error()
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	return r.StatusCode, string(b)
}

// clusterView is the cluster part of the node's /api/v1/health.
func (p *clusterProc) clusterView() (leader, state string) {
	r, err := http.Get(p.ops + "/api/v1/health")
	if err != nil {
		return "", ""
	}
	defer r.Body.Close()
	var h struct {
		Cluster struct{ Leader, State string }
	}
	if json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&h) != nil {
		return "", ""
	}
	return h.Cluster.Leader, h.Cluster.State
}

// Three real `outpost serve -node` processes on loopback, with
// certificates from `outpost cluster certs`, keep one replicated state:
// all three serve /healthz, agree on one leader, and an outage of a local
// target gives one incident with the same /api/v2/incidents.json bytes on
// every node.
func TestThreeProcessesKeepOneState(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := runBinary(t, nil, "cluster", "certs", "-out", filepath.Join(dir, "cluster"), "-nodes", "ams,nyc,sgp"); code != exitOK {
		t.Fatalf("certs: %s", errs)
	}
	tg := &target{addr: "127.0.0.1:0"}
	tg.start(t)
	defer tg.stop()
	addrs := closedAddrs(t, 9) // per node: raft, listen, operators
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
site: {title: Cluster, url: "https://status.example.com"} # one public name in front of the three
listen: "${LISTEN}"
operators: {listen: "${OPS}"}
storage: {path: "${DATA}/outpost.db"}
components: [{id: shop, name: Shop}]
checks:
  - {name: shop-home, component: shop, kind: http, target: "http://%s/", interval: 1s, failure_threshold: 2, success_threshold: 1}
cluster:
  nodes:
    - {id: ams, address: %q, location: eu-west}
    - {id: nyc, address: %q, location: us-east}
    - {id: sgp, address: %q, location: ap-southeast}
  tls: {ca_file: cluster/ca.pem, cert_file: "cluster/${OUTPOST_NODE}.pem", key_file: "cluster/${OUTPOST_NODE}-key.pem"}
`, tg.addr, addrs[0], addrs[1], addrs[2])), 0o600); err != nil {
		t.Fatal(err)
	}
	var nodes []*clusterProc
	var bodies []string
	for i, id := range []string{"ams", "nyc", "sgp"} {
		nodes = append(nodes, startClusterNode(t, cfg, id, addrs[3+i], addrs[6+i], filepath.Join(dir, id)))
	}
	deadline := time.Now().Add(40 * time.Second)
	until := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if time.Now().After(deadline) {
				for _, p := range nodes {
					t.Logf("%s:\n%s", p.id, p.log())
				}
				for i, b := range bodies {
					t.Logf("incidents on %s: %s", nodes[i].id, b)
				}
				t.Fatalf("no %s in time", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	until("/healthz 200 on all three", func() bool {
		for _, p := range nodes {
			if code, _ := p.get("/healthz"); code != http.StatusOK {
				return false
			}
		}
		return true
	})
	until("one leader named by every node", func() bool {
		leaders, led := map[string]bool{}, 0
		for _, p := range nodes {
			leader, state := p.clusterView()
			leaders[leader] = true
			if state == "Leader" {
				led++
			}
		}
		return len(leaders) == 1 && !leaders[""] && led == 1
	})
	tg.stop() // the shop goes down
	deadline = time.Now().Add(40 * time.Second)
	until("one incident, the same on all three", func() bool {
		bodies = bodies[:0]
		for _, p := range nodes {
			code, body := p.get("/api/v2/incidents.json")
			bodies = append(bodies, body)
			if code != http.StatusOK || strings.Count(body, `"shortlink"`) != 1 {
				return false
			}
		}
		return bodies[0] == bodies[1] && bodies[1] == bodies[2]
	})
}
