package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/config"
)

// buildOnce compiles outpost once per test run.
var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "outpost-e2e-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "outpost")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// outpostBinary is the path of the compiled binary, built on first use.
func outpostBinary(tb testing.TB) string {
	tb.Helper()
	bin, err := buildOnce()
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// target is a local HTTP service the test can stop and start on one port.
type target struct {
	addr string
	srv  *http.Server
}

func (tg *target) start(t testing.TB) {
	t.Helper()
	var ln net.Listener
	if host, port, _ := net.SplitHostPort(tg.addr); port == "0" {
		// A port the test binds again after stop (an outage) is drawn
		// below the ephemeral range, as closedAddrs draws them.
		ln = listenLow(t, host)
	} else {
		var err error
		if ln, err = net.Listen("tcp", tg.addr); err != nil {
			t.Fatalf("restart target on %s: %v", tg.addr, err)
		}
	}
	tg.addr = ln.Addr().String()
	tg.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go tg.srv.Serve(ln)
}

func (tg *target) stop() { tg.srv.Close() }

// shopOutpost is the real binary watching one local target: component
// "shop", checked every second and judged on one result.
type shopOutpost struct {
	bin, cfg, listen string
	p                *outpostProc
	tg               *target
}

// startShop writes that config, with more components (", {id: ...}") and
// more top-level keys (extra), and starts Outpost on it.
func startShop(t *testing.T, title, components, extra string) shopOutpost {
	t.Helper()
	// listen and the operators' listener drawn together: two separate
	// draws once gave both the same port (closedAddrs).
	addrs := closedAddrs(t, 2)
	s := shopOutpost{bin: outpostBinary(t), tg: &target{addr: "127.0.0.1:0"}, listen: addrs[0]}
	s.tg.start(t)
	t.Cleanup(s.tg.stop)
	s.cfg = filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(s.cfg, []byte(fmt.Sprintf(`
site: {title: %s}
listen: %s
components: [{id: shop, name: Shop}%s]
checks:
  - {name: shop-home, component: shop, kind: http, target: "http://%s/", interval: 1s, failure_threshold: 1, success_threshold: 1}
%s%s`, title, s.listen, components, s.tg.addr, fmt.Sprintf("operators: {listen: %q}\n", addrs[1]), extra)), 0o600); err != nil {
		t.Fatal(err)
	}
	s.p = startOutpost(t, s.bin, s.cfg, s.listen)
	return s
}

// outpostProc is a running outpost serve.
type outpostProc struct {
	cmd  *exec.Cmd
	base string
	ops  string // the operators' listener: /metrics, /api/v1/health
	logs *strings.Builder
	mu   *sync.Mutex
}

func startOutpost(t *testing.T, bin, cfg, listen string) *outpostProc {
	t.Helper()
	return startOutpostWith(t, bin, cfg, "http://"+listen, defaultClient())
}

func defaultClient() *http.Client { return http.DefaultClient }

// startOutpostWith starts outpost serve and waits until base/healthz
// answers 200 through client.
func startOutpostWith(t testing.TB, bin, cfg, base string, client *http.Client) *outpostProc {
	t.Helper()
	cmd := exec.Command(bin, "serve", "-config", cfg)
	stderr, _ := cmd.StderrPipe()
	p := &outpostProc{cmd: cmd, base: base, ops: opsBase(cfg), logs: &strings.Builder{}, mu: &sync.Mutex{}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFor(t, 10*time.Second, "outpost to serve /healthz", func() bool {
		r, err := client.Get(p.base + "/healthz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	}, p)
	return p
}

// opsBase is the operators' listener the config at path names ("" when
// off or unreadable).
func opsBase(path string) string {
	c, err := config.Load(path, config.LoadOptions{})
	if err != nil || c.Operators.Off() {
		return ""
	}
	return "http://" + c.Operators.Listen
}

// opsLine gives an Outpost under test an operators' listener of its own.
func opsLine(t testing.TB) string { return fmt.Sprintf("operators: {listen: %q}\n", freeAddr(t)) }

func (p *outpostProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool, p *outpostProc) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			logs := ""
			if p != nil {
				logs = p.log()
			}
			t.Fatalf("timed out after %v waiting for %s\nlogs:\n%s", d, what, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type apiView struct {
	Status struct {
		Indicator string `json:"indicator"`
	} `json:"status"`
	Components []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"components"`
	Incidents []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"incidents"`
}

func fetch(base, path string) (string, error) {
	r, err := http.Get(base + path)
	if err != nil {
		return "", err
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	return string(b), err
}

func apiStatus(base string) (apiView, error) {
	var v apiView
	b, err := fetch(base, "/api/v1/status")
	if err != nil {
		return v, err
	}
	return v, json.Unmarshal([]byte(b), &v)
}

func TestEndToEndOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	bin := outpostBinary(t)
	tg := &target{addr: "127.0.0.1:0"}
	tg.start(t)
	defer tg.stop()
	listen := closedAddr(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
site: {title: E2E Status, url: "http://%[1]s"}
listen: %[1]s
operators: {listen: %[3]q}
storage: {path: data/e2e.db}
export: {dir: site-live, every: 5s}
components:
  - {id: shop, name: Shop}
checks:
  - name: shop-home
    component: shop
    kind: http
    target: http://%[2]s/
    interval: 1s
    timeout: 500ms
    failure_threshold: 2
    success_threshold: 2
    recheck_interval: 200ms
`, listen, tg.addr, freeAddr(t))), 0o600)

	p := startOutpost(t, bin, cfg, listen)
	waitFor(t, 10*time.Second, "the shop to be seen operational", func() bool {
		v, err := apiStatus(p.base)
		return err == nil && v.Status.Indicator == "none" && !strings.Contains(mustFetch(p.base, "/"), "Waiting for the first check results")
	}, p)

	if m := mustFetch(p.ops, "/metrics"); !strings.Contains(m, `outpost_probe_runs_total{check="shop-home",outcome="up"}`) ||
		!strings.Contains(m, `outpost_component_status{component="shop",status="operational"} 1`) {
		t.Fatalf("/metrics lacks probe and component series:\n%s", m)
	}
	if h := mustFetch(p.ops, "/api/v1/health"); !strings.Contains(h, `"healthy":true`) || !strings.Contains(h, `"matches_file":true`) {
		t.Fatalf("/api/v1/health: %s", h)
	}

	tg.stop()
	var incident string
	waitFor(t, 15*time.Second, "the outage and an open incident", func() bool {
		v, err := apiStatus(p.base)
		if err != nil || len(v.Incidents) != 1 || v.Components[0].Status != "major_outage" {
			return false
		}
		incident = v.Incidents[0].ID
		page := mustFetch(p.base, "/")
		return strings.Contains(page, "Major Service Outage") && strings.Contains(page, "Shop is unavailable")
	}, p)
	if page := mustFetch(p.base, "/incidents/"+incident); !strings.Contains(page, "We are investigating connection failures affecting Shop") {
		t.Fatalf("incident page:\n%s", page)
	}
	// The static copy follows: export.dir shows the outage too.
	waitFor(t, 10*time.Second, "the outage in the static export", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "site-live", "index.html"))
		_, incErr := os.Stat(filepath.Join(dir, "site-live", "incidents", incident, "index.html"))
		return err == nil && incErr == nil && strings.Contains(string(b), "Shop is unavailable")
	}, p)

	tg.start(t)
	waitFor(t, 15*time.Second, "recovery and resolution", func() bool {
		v, err := apiStatus(p.base)
		return err == nil && len(v.Incidents) == 0 && v.Components[0].Status == "operational" &&
			strings.Contains(mustFetch(p.base, "/incidents/"+incident), "This incident has been resolved")
	}, p)

	// A crash loses nothing: SIGKILL, restart, the incident is in history.
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	p2 := startOutpost(t, bin, cfg, listen)
	page := mustFetch(p2.base, "/history")
	if !strings.Contains(page, "Shop is unavailable") || !strings.Contains(page, "/incidents/"+incident) {
		t.Fatalf("history after SIGKILL lacks the incident:\n%s", page)
	}
	if page := mustFetch(p2.base, "/"); !strings.Contains(page, "Shop is unavailable") {
		t.Fatal("the front page's past incidents lack the incident after restart")
	}

	// backup works against the running process.
	out := filepath.Join(dir, "copy.db")
	b, err := exec.Command(bin, "backup", "-config", cfg, "-out", out).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "from the running Outpost") {
		t.Fatalf("backup: %v\n%s", err, b)
	}

	// verify too, on copies of both files (the local one over ?file=local).
	b, err = exec.Command(bin, "verify", "-config", cfg).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "is consistent") || !strings.Contains(string(b), "from the running Outpost") {
		t.Fatalf("verify: %v\n%s", err, b)
	}

	// export works against the running process.
	b, err = exec.Command(bin, "export", "-config", cfg, "-out", filepath.Join(dir, "site")).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "from the running Outpost") {
		t.Fatalf("export: %v\n%s", err, b)
	}
	if page, _ := os.ReadFile(filepath.Join(dir, "site", "history", "index.html")); !strings.Contains(string(page), "Shop is unavailable") {
		t.Fatal("the exported history lacks the incident")
	}

	// A clean stop: SIGTERM exits 0 and says so.
	_ = p2.cmd.Process.Signal(syscall.SIGTERM)
	if err := p2.cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, p2.log())
	}
	waitFor(t, 2*time.Second, "the stopped log line", func() bool { return strings.Contains(p2.log(), `msg=stopped`) }, p2)

	// With Outpost stopped, export and backup read the data file itself.
	b, err = exec.Command(bin, "export", "-config", cfg, "-out", filepath.Join(dir, "site-offline")).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "from the data file") {
		t.Fatalf("offline export: %v\n%s", err, b)
	}
	if page, _ := os.ReadFile(filepath.Join(dir, "site-offline", "incidents", incident, "index.html")); !strings.Contains(string(page), "This incident has been resolved") {
		t.Fatal("the offline export lacks the resolved incident")
	}
	b, err = exec.Command(bin, "backup", "-config", cfg, "-out", filepath.Join(dir, "offline.db")).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "from e2e.db") {
		t.Fatalf("offline backup: %v\n%s", err, b)
	}
}

func mustFetch(base, path string) string {
	s, _ := fetch(base, path)
	return s
}
