package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var (
	scaleSoak = flag.Duration("scale.soak", 2*time.Minute, "how long BenchmarkRealBinary measures after warm-up")
	// scaleWarmup is how long the binary runs after its first page before
	// the soak is measured: every check has run at least once by then.
	scaleWarmup = flag.Duration("scale.warmup", 35*time.Second, "how long BenchmarkRealBinary warms up after the first page")
	scaleBig    = flag.Bool("scale.big", false, "BenchmarkRealBinary also runs 10,000 checks in 1,000 components")
	// scaleSurge runs wrk on / for 15 s in the middle of the soak: probing
	// must go on unchanged, with no false failures and little RSS growth.
	scaleSurge = flag.Bool("scale.surge", false, "BenchmarkRealBinary adds a 15 s wrk surge on / during the soak")
	// scaleBin runs a prebuilt binary instead of this tree's, so the parent
	// commit's binary can be measured in the same session, alternately.
	scaleBin = flag.String("scale.bin", "", "BenchmarkRealBinary runs this prebuilt outpost binary")
	// scaleProfile writes a CPU profile of the soak and a heap profile at
	// its end (from the operators' /debug/pprof/) into this folder.
	scaleProfile = flag.String("scale.profile", "", "BenchmarkRealBinary writes cpu-SHAPE.pprof and heap-SHAPE.pprof here")
)

// BenchmarkRealBinary runs `outpost serve` as a process with thousands of
// HTTP checks at 30 s against a local target, and measures what a user's
// machine would see: runs executed (counted at the target), results
// dropped, CPU per run (from /proc), RSS, and time to the first page.
//
//	go test ./cmd/outpost -run '^$' -bench RealBinary -benchtime 1x [-scale.soak 2m] [-scale.big]
func BenchmarkRealBinary(b *testing.B) {
	shapes := []struct {
		name               string
		checks, components int
	}{{"5000-checks-50-components", 5000, 50}, {"5000-checks-5000-components", 5000, 5000}}
	if *scaleBig {
		shapes = append(shapes, struct {
			name               string
			checks, components int
		}{"10000-checks-1000-components", 10000, 1000})
	}
	for _, sh := range shapes {
		b.Run(sh.name, func(b *testing.B) { realBinary(b, sh.checks, sh.components) })
	}
}

func realBinary(b *testing.B, checks, components int) {
	bin := *scaleBin
	if bin == "" {
		bin = outpostBinary(b)
	}
	var hits atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "ok")
	})}
	go target.Serve(ln)
	defer target.Close()

	const interval = 30 * time.Second
	var cfg strings.Builder
	listen, ops := freeAddr(b), freeAddr(b)
	fmt.Fprintf(&cfg, "site: {title: Scale}\nlisten: %s\noperators: {listen: %q}\ncomponents:\n", listen, ops)
	for i := range components {
		fmt.Fprintf(&cfg, "  - {id: c%d, name: Component %d, group: Group %d}\n", i, i, i/10)
	}
	cfg.WriteString("checks:\n")
	for i := range checks {
		fmt.Fprintf(&cfg, "  - {name: check-%05d, component: c%d, kind: http, target: \"http://%s/\", interval: 30s, timeout: 5s}\n", i, i%components, ln.Addr())
	}
	path := filepath.Join(b.TempDir(), "config.yaml")
	os.WriteFile(path, []byte(cfg.String()), 0o600)
	cmd := exec.Command(bin, "serve", "-config", path)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var firstPage time.Duration
	for deadline := start.Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if r, err := http.Get("http://" + listen + "/"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				firstPage = time.Since(start)
				break
			}
		}
	}
	if firstPage == 0 {
		b.Fatal("no first page within 60 s")
	}
	time.Sleep(*scaleWarmup)
	warmPeak := procStatus(cmd.Process.Pid, "VmHWM:") // start-up and warm-up
	h0, cpu0, d0 := hits.Load(), cpuTicks(cmd.Process.Pid), scrape(b, "http://"+ops)["dropped"]
	down0 := scrape(b, "http://"+ops)["down"]
	b.ResetTimer()
	profiled := profileSoak(b, "http://"+ops, fmt.Sprintf("%d-%d", checks, components))
	if *scaleSurge {
		if _, err := exec.LookPath("wrk"); err != nil {
			b.Skip("wrk is not installed (apt-get install wrk)")
		}
		third := *scaleSoak / 3
		time.Sleep(third)
		rssBefore, hBefore, at := rssOf(cmd.Process.Pid), hits.Load(), time.Now()
		out, _ := exec.Command("wrk", "-t1", "-c32", "-d15s", "-H", "Accept-Encoding: gzip", "http://"+listen+"/").CombinedOutput()
		during := float64(hits.Load()-hBefore) / time.Since(at).Seconds()
		b.ReportMetric(100*during/(float64(checks)/interval.Seconds()), "%probe-rate-during-surge")
		b.ReportMetric(float64(rssOf(cmd.Process.Pid)-rssBefore)/(1<<20), "RSS-growth-in-surge-MiB")
		for l := range strings.SplitSeq(string(out), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "Requests/sec:"); ok {
				rps, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
				b.ReportMetric(rps, "surge-req/s")
			}
		}
		time.Sleep(max(*scaleSoak-time.Since(at)-third, 0))
	} else {
		time.Sleep(*scaleSoak)
	}
	b.StopTimer()
	profiled()
	b.ReportMetric(scrape(b, "http://"+ops)["down"]-down0, "false-failures")
	h1, cpu1, d1, rss := hits.Load(), cpuTicks(cmd.Process.Pid), scrape(b, "http://"+ops)["dropped"], rssOf(cmd.Process.Pid)
	runs := float64(h1 - h0)
	expected := float64(checks) * scaleSoak.Seconds() / interval.Seconds()
	b.ReportMetric(100*runs/expected, "%runs-executed")
	b.ReportMetric(d1-d0, "results-dropped")
	b.ReportMetric(float64(cpu1-cpu0)*10/runs, "cpu-ms/run") // ticks are 10 ms
	b.ReportMetric(float64(rss)/(1<<20), "RSS-MiB")
	b.ReportMetric(float64(procStatus(cmd.Process.Pid, "VmHWM:"))/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(warmPeak)/(1<<20), "warm-up-peak-RSS-MiB")
	b.ReportMetric(firstPage.Seconds(), "first-page-s")
}

// profileSoak starts a CPU profile of the soak when -scale.profile is set;
// the function it returns waits for it and takes a heap profile.
func profileSoak(b *testing.B, base, shape string) func() {
	if *scaleProfile == "" {
		return func() {}
	}
	save := func(url, name string) {
		c := &http.Client{Timeout: *scaleSoak + time.Minute}
		r, err := c.Get(url)
		if err != nil {
			b.Errorf("profile %s: %v", name, err)
			return
		}
		defer r.Body.Close()
		f, err := os.Create(filepath.Join(*scaleProfile, name))
		if err != nil {
			b.Errorf("profile %s: %v", name, err)
			return
		}
		defer f.Close()
		if _, err := io.Copy(f, io.LimitReader(r.Body, 64<<20)); err != nil || r.StatusCode != http.StatusOK {
			b.Errorf("profile %s: status %d, %v", name, r.StatusCode, err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		save(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, int(scaleSoak.Seconds())-1), "cpu-"+shape+".pprof")
	}()
	return func() {
		<-done
		save(base+"/debug/pprof/heap", "heap-"+shape+".pprof")
	}
}

// cpuTicks is a process's user and system time in clock ticks (1/100 s).
func cpuTicks(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 on
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}
