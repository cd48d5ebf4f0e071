package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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
func startClusterNode(t testing.TB, cfg, id, listen, ops, data string) *clusterProc {
	t.Helper()
	cmd := exec.Command(outpostBinary(t), "serve", "-config", cfg, "-node", id)
	cmd.Env = append(os.Environ(), "LISTEN="+listen, "OPS="+ops, "DATA="+data)
	return startProc(t, cmd, id, listen, ops)
}

// startProc starts cmd (an `outpost serve`) answering on listen and ops,
// keeps its log, and kills it at the test's end.
func startProc(t testing.TB, cmd *exec.Cmd, id, listen, ops string) *clusterProc {
	t.Helper()
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

// clusterFiles writes certificates and a config for ams, nyc and sgp
// watching target with the given failure threshold, and returns the
// config's path and the nine addresses (per node: raft, listen, ops).
func clusterFiles(t *testing.T, dir, target string, threshold int) (string, []string) {
	return clusterFilesWith(t, dir, target, threshold, "")
}

// clusterFilesWith is clusterFiles with more top-level keys (channels).
func clusterFilesWith(t *testing.T, dir, target string, threshold int, extra string) (string, []string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "cluster", "ca.pem")); err != nil {
		if code, _, errs := runBinary(t, nil, "cluster", "certs", "-out", filepath.Join(dir, "cluster"), "-nodes", "ams,nyc,sgp"); code != exitOK {
			t.Fatalf("certs: %s", errs)
		}
	}
	addrs := closedAddrs(t, 9)
	path := writeClusterConfig(t, filepath.Join(dir, "config.yaml"), target, threshold, addrs)
	if extra != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err == nil {
			_, err = f.WriteString(extra)
			err = errors.Join(err, f.Close())
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return path, addrs
}

// writeClusterConfig writes the shared config at path.
func writeClusterConfig(t *testing.T, path, target string, threshold int, addrs []string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`
site: {title: Cluster, url: "https://status.example.com"} # one public name in front of the three
listen: "${LISTEN}"
operators: {listen: "${OPS}"}
storage: {path: "${DATA}/outpost.db"}
components: [{id: shop, name: Shop}]
checks:
  - {name: shop-home, component: shop, kind: http, target: "http://%s/", interval: 1s, failure_threshold: %d, success_threshold: 1}
cluster:
  nodes:
    - {id: ams, address: %q, location: eu-west}
    - {id: nyc, address: %q, location: us-east}
    - {id: sgp, address: %q, location: ap-southeast}
  tls: {ca_file: %q, cert_file: "%s/${OUTPOST_NODE}.pem", key_file: "%s/${OUTPOST_NODE}-key.pem"}
`, target, threshold, addrs[0], addrs[1], addrs[2], filepath.Join(filepath.Dir(path), "cluster", "ca.pem"),
		filepath.Join(filepath.Dir(path), "cluster"), filepath.Join(filepath.Dir(path), "cluster"))), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startThree starts ams, nyc and sgp on the config clusterFiles wrote,
// each with its own data folder under dir (not waiting for them).
func startThree(t testing.TB, cfg, dir string, addrs []string) []*clusterProc {
	t.Helper()
	var nodes []*clusterProc
	for i, id := range []string{"ams", "nyc", "sgp"} {
		nodes = append(nodes, startClusterNode(t, cfg, id, addrs[3+i], addrs[6+i], filepath.Join(dir, id)))
	}
	return nodes
}

// allOK reports whether every node answers path with 200.
func allOK(nodes []*clusterProc, path string) func() bool {
	return func() bool {
		for _, p := range nodes {
			if code, _ := p.get(path); code != http.StatusOK {
				return false
			}
		}
		return true
	}
}

// until polls ok until the deadline, then fails with every node's log.
func until(t testing.TB, deadline time.Time, nodes []*clusterProc, what string, ok func() bool) {
	t.Helper()
	for !ok() {
		if time.Now().After(deadline) {
			for _, p := range nodes {
				t.Logf("%s:\n%s", p.id, p.log())
			}
			t.Fatalf("no %s in time", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// health is the node's /api/v1/health status and reason.
func (p *clusterProc) health() (string, string) {
	r, err := http.Get(p.ops + "/api/v1/health")
	if err != nil {
		return "", err.Error()
	}
	defer r.Body.Close()
	var h struct{ Status, Reason string }
	_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&h)
	return h.Status, h.Reason
}

// A member whose checks differ from the cluster's (its config file was
// not updated) applies nothing and says so, its results are refused, and
// once its config matches it catches up to the same state.
func TestMemberWithOtherChecksContributesNothing(t *testing.T) {
	dir := t.TempDir()
	tg := &target{addr: "127.0.0.1:0"}
	tg.start(t)
	defer tg.stop()
	cfg, addrs := clusterFiles(t, dir, tg.addr, 2)
	odd := writeClusterConfig(t, filepath.Join(dir, "odd.yaml"), tg.addr, 5, addrs)
	nodes := []*clusterProc{
		startClusterNode(t, cfg, "ams", addrs[3], addrs[6], filepath.Join(dir, "ams")),
		startClusterNode(t, cfg, "nyc", addrs[4], addrs[7], filepath.Join(dir, "nyc")),
	}
	deadline := time.Now().Add(40 * time.Second)
	until(t, deadline, nodes, "a leader among ams and nyc", func() bool {
		for _, p := range nodes {
			if _, state := p.clusterView(); state == "Leader" {
				return true
			}
		}
		return false
	})
	sgp := startClusterNode(t, odd, "sgp", addrs[5], addrs[8], filepath.Join(dir, "sgp"))
	nodes = append(nodes, sgp)
	until(t, deadline, nodes, "sgp saying its checks differ", func() bool {
		status, reason := sgp.health()
		return status == "unhealthy" && strings.Contains(reason, "differ from the cluster's")
	})
	tg.stop()
	until(t, deadline, nodes, "the incident on ams and nyc", func() bool {
		_, a := nodes[0].get("/api/v2/incidents.json")
		_, b := nodes[1].get("/api/v2/incidents.json")
		return strings.Count(a, `"shortlink"`) == 1 && a == b
	})
	if _, body := sgp.get("/api/v2/incidents.json"); strings.Contains(body, `"shortlink"`) {
		t.Fatalf("sgp applied inputs under its own checks: %s", body)
	}
	// sgp's config is fixed (the same file as the others'): it reloads,
	// applies what it held back, and serves the same incidents.
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(odd, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_ = sgp.cmd.Process.Signal(syscall.SIGHUP)
	deadline = time.Now().Add(40 * time.Second)
	until(t, deadline, nodes, "sgp caught up, the same incidents as the others", func() bool {
		_, a := nodes[0].get("/api/v2/incidents.json")
		_, c := sgp.get("/api/v2/incidents.json")
		status, _ := sgp.health()
		return status == "ok" && a == c
	})
}

// Three real `outpost serve -node` processes on loopback, with
// certificates from `outpost cluster certs`, keep one replicated state:
// all three serve /healthz, `cluster status -json` names one leader on
// every node, and an outage of a local target gives one incident with the
// same /api/v2/incidents.json bytes on every node.
func TestThreeProcessesKeepOneState(t *testing.T) {
	dir := t.TempDir()
	tg := &target{addr: "127.0.0.1:0"}
	tg.start(t)
	defer tg.stop()
	cfg, addrs := clusterFiles(t, dir, tg.addr, 2)
	nodes := startThree(t, cfg, dir, addrs)
	deadline := time.Now().Add(40 * time.Second)
	until(t, deadline, nodes, "/healthz 200 on all three", allOK(nodes, "/healthz"))
	until(t, deadline, nodes, "one leader named by `cluster status -json` on every node", func() bool {
		leaders := map[string]bool{}
		for i, p := range nodes {
			code, out, _ := runBinary(t, []string{"LISTEN=" + addrs[3+i], "OPS=" + addrs[6+i], "DATA=" + filepath.Join(dir, p.id)},
				"cluster", "status", "-config", cfg, "-node", p.id, "-json")
			var st struct {
				Leader *string
				Nodes  []struct{ Node, State string }
			}
			if code != exitOK || json.Unmarshal([]byte(out), &st) != nil || st.Leader == nil || len(st.Nodes) != 3 {
				return false
			}
			leaders[*st.Leader] = true
		}
		return len(leaders) == 1
	})
	_, out, _ := runBinary(t, []string{"LISTEN=" + addrs[3], "OPS=" + addrs[6], "DATA=" + filepath.Join(dir, "ams")}, "cluster", "status", "-config", cfg, "-node", "ams")
	for _, want := range []string{"leader: ", "NODE", "LAG", "CERT EXPIRES", "eu-west", "us-east", "ap-southeast", "Leader", "Follower"} {
		if !strings.Contains(out, want) {
			t.Errorf("cluster status lacks %q:\n%s", want, out)
		}
	}
	tg.stop() // the shop goes down
	deadline = time.Now().Add(40 * time.Second)
	var bodies []string
	until(t, deadline, nodes, "one incident, the same on all three", func() bool {
		bodies = bodies[:0]
		for _, p := range nodes {
			code, body := p.get("/api/v2/incidents.json")
			if code != http.StatusOK || strings.Count(body, `"shortlink"`) != 1 {
				return false
			}
			bodies = append(bodies, body)
		}
		return bodies[0] == bodies[1] && bodies[1] == bodies[2]
	})
	// Each page names the member that served it.
	for i, p := range nodes {
		want := fmt.Sprintf("by the monitor %s (%s)", p.id, []string{"eu-west", "us-east", "ap-southeast"}[i])
		if _, page := p.get("/"); !strings.Contains(page, want) {
			t.Errorf("%s's page does not say %q", p.id, want)
		}
	}
}

// A member cut off from the others (both killed) keeps serving the last
// agreed state but says so: its page and /api/v1/status read "cut off
// from the others", its public /healthz answers 503 (readers go
// elsewhere) while its operators' /healthz stays 200 (no restart), and
// `outpost healthcheck` passes; once the others are back it is in touch
// again and answers 200.
func TestCutOffMemberSaysSo(t *testing.T) {
	dir := t.TempDir()
	tg := &target{addr: "127.0.0.1:0"}
	tg.start(t)
	defer tg.stop()
	cfg, addrs := clusterFiles(t, dir, tg.addr, 2)
	ids := []string{"ams", "nyc", "sgp"}
	nodes := startThree(t, cfg, dir, addrs)
	deadline := time.Now().Add(40 * time.Second)
	until(t, deadline, nodes, "all three in touch", allOK(nodes, "/healthz"))
	ams := nodes[0]
	for _, p := range nodes[1:] { // the other two die
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
	until(t, deadline, nodes, "ams saying it is cut off", func() bool {
		code, _ := ams.get("/healthz")
		_, page := ams.get("/")
		_, api := ams.get("/api/v1/status")
		return code == http.StatusServiceUnavailable && strings.Contains(page, "This monitor is cut off from the others since") &&
			strings.Contains(api, `"cut_off_since"`)
	})
	if code, body := getURL(ams.ops + "/healthz"); code != http.StatusOK {
		t.Fatalf("operators' /healthz of a member cut off: %d %s, want 200 (alive: no restart)", code, body)
	}
	env := []string{"LISTEN=" + addrs[3], "OPS=" + addrs[6], "DATA=" + filepath.Join(dir, "ams")}
	if code, out, errs := runBinary(t, env, "healthcheck", "-config", cfg, "-node", "ams"); code != exitOK {
		t.Fatalf("healthcheck of a member cut off: exit %d %s %s", code, out, errs)
	}
	for i, id := range ids[1:] { // they come back
		nodes[i+1] = startClusterNode(t, cfg, id, addrs[4+i], addrs[7+i], filepath.Join(dir, id))
	}
	deadline = time.Now().Add(40 * time.Second)
	until(t, deadline, nodes, "ams in touch again", func() bool {
		code, _ := ams.get("/healthz")
		_, page := ams.get("/")
		return code == http.StatusOK && !strings.Contains(page, "cut off from the others")
	})
}

func getURL(url string) (int, string) {
	r, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	return r.StatusCode, string(b)
}
