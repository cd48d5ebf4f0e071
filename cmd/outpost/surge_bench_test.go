package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkSurge: with 1,000 HTTP checks at a 10 s interval, a 15 s wrk
// surge on / and /api/v2/summary.json must not make probing miss or delay
// runs, cause false failures, or grow RSS by 50 MiB. About 70 s:
//
//	go test ./cmd/outpost -run '^$' -bench Surge -benchtime 1x
func BenchmarkSurge(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk is not installed (apt-get install wrk)")
	}
	bin := outpostBinary(b)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go target.Serve(ln)
	defer target.Close()

	const checks, interval = 1000, 10 * time.Second
	dir := b.TempDir()
	var cfg strings.Builder
	listen := freeAddr(b)
	ops := freeAddr(b)
	fmt.Fprintf(&cfg, "site: {title: Surge}\nlisten: %s\noperators: {listen: %q}\ncomponents:\n", listen, ops)
	for i := range 20 {
		fmt.Fprintf(&cfg, "  - {id: c%d, name: Component %d, group: Group %d}\n", i, i, i/5)
	}
	cfg.WriteString("checks:\n")
	for i := range checks {
		fmt.Fprintf(&cfg, "  - {name: check-%04d, component: c%d, kind: http, target: \"http://%s/\", interval: 10s, timeout: 5s}\n", i, i%20, ln.Addr())
	}
	path := filepath.Join(dir, "config.yaml")
	os.WriteFile(path, []byte(cfg.String()), 0o600)
	cmd := exec.Command(bin, "serve", "-config", path)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := "http://" + listen
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := http.Get(base + "/healthz"); err == nil {
			r.Body.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * interval) // a soak phase: every check runs twice before measuring
	m0, rss0 := scrape(b, "http://"+ops), rssOf(cmd.Process.Pid)

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	rps := map[string]string{}
	for _, p := range []string{"/", "/api/v2/summary.json"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, _ := exec.Command("wrk", "-t1", "-c32", "-d15s", "-H", "Accept-Encoding: gzip", base+p).CombinedOutput()
			for l := range strings.SplitSeq(string(out), "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(l), "Requests/sec:"); ok {
					mu.Lock()
					rps[p] = strings.TrimSpace(v)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	rssPeak := rssOf(cmd.Process.Pid)
	time.Sleep(interval) // runs due during the surge report within one interval
	window := time.Since(start)
	b.StopTimer()
	m1 := scrape(b, "http://"+ops)

	runs := m1["runs"] - m0["runs"]
	expected := float64(checks) * window.Seconds() / interval.Seconds()
	b.ReportMetric(100*runs/expected, "%runs-executed")
	b.ReportMetric(m1["late"]-m0["late"], "runs-later-than-interval")
	b.ReportMetric(m1["down"]-m0["down"], "false-failures")
	b.ReportMetric(float64(rssPeak-rss0)/(1<<20), "RSS-growth-MiB")
	b.ReportMetric(float64(rss0)/(1<<20), "RSS-before-MiB")
	page, _ := strconv.ParseFloat(rps["/"], 64)
	sum, _ := strconv.ParseFloat(rps["/api/v2/summary.json"], 64)
	b.ReportMetric(page, "page-req/s")
	b.ReportMetric(sum, "summary-req/s")
}

// freeAddr is closedAddr for a benchmark.
func freeAddr(b testing.TB) string {
	b.Helper()
	return closedAddrs(b, 1)[0]
}

// scrape reads from /metrics the probe counters (runs, down), the lag
// histogram (late), results dropped and raft's applied index.
func scrape(b *testing.B, base string) map[string]float64 {
	r, err := http.Get(base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer r.Body.Close()
	out := map[string]float64{}
	var lagCount, lagWithin float64
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch {
		case strings.HasPrefix(l, "outpost_probe_runs_total{"):
			out["runs"] += v
			if strings.Contains(l, `outcome="down"`) {
				out["down"] += v
			}
		case f[0] == "outpost_results_dropped_total": // every shed result is counted here
			out["dropped"] = v
		case f[0] == "outpost_cluster_raft_applied_index":
			out["applied"] = v
		case strings.HasPrefix(l, "outpost_scheduler_lag_seconds_count"):
			lagCount = v
		case strings.HasPrefix(l, `outpost_scheduler_lag_seconds_bucket{le="10"}`):
			lagWithin = v
		}
	}
	out["late"] = lagCount - lagWithin
	return out
}

// rssOf reads a process's resident set size from /proc, in bytes.
func rssOf(pid int) int64 { return procStatus(pid, "VmRSS:") }

// procStatus reads one size field of /proc/PID/status (VmRSS, VmHWM) in bytes.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
