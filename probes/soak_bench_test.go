package probes

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var soak = flag.Duration("soak", 2*time.Minute, "how long BenchmarkScheduler10kHTTP runs")

// The HTTP target runs in a child process (this test binary, re-run with
// this variable), so its CPU is not counted as the scheduler's.
const benchTargetEnv = "OUTPOST_BENCH_TARGET"

func TestMain(m *testing.M) {
	if os.Getenv(benchTargetEnv) != "" {
		serveBenchTarget()
		return
	}
	if b := os.Getenv(hostilePeerEnv); b != "" {
		serveHostile(b)
		return
	}
	os.Exit(m.Run())
}

func serveBenchTarget() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	body := []byte(`{"status":"ok"}`)
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
}

// BenchmarkScheduler10kHTTP runs 10,000 real HTTP checks (fresh connection,
// full body read) at a 30 s interval for -soak, and reports the share of
// scheduled runs executed, start lag, peak RSS and CPU. Run it alone:
//
//	go test ./probes -run '^$' -bench Scheduler10kHTTP -benchtime 1x -soak 2m
func BenchmarkScheduler10kHTTP(b *testing.B) {
	const checks, interval = 10000, 30 * time.Second
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), benchTargetEnv+"=1")
	out, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	addr, _ := bufio.NewReader(out).ReadString('\n')
	url := "http://" + strings.TrimSpace(addr) + "/health"

	var jobs []Job
	for i := range checks {
		p, err := New(Spec{Kind: "http", Target: url, Expect: &Expect{BodyContains: "ok"}}, Options{Version: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		jobs = append(jobs, Job{Name: fmt.Sprintf("check-%05d", i), Probe: p, Interval: interval, Timeout: 5 * time.Second})
	}
	var mu sync.Mutex
	var lags []time.Duration
	failures := 0
	sink := func(r Report) {
		mu.Lock()
		lags = append(lags, r.Lag())
		if r.Result.Outcome != Up {
			failures++
		}
		mu.Unlock()
	}
	s, err := NewScheduler(jobs, SchedulerOptions{Sink: sink, Concurrency: 256})
	if err != nil {
		b.Fatal(err)
	}
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	b.ResetTimer()
	s.Start()
	time.Sleep(*soak) // a soak runs for a fixed wall time by design
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	s.Stop(ctx)
	cancel()
	wall := time.Since(start)
	b.StopTimer()
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond

	// Every check fires once per interval at its offset: the expected count
	// is how many offsets fell inside the window.
	expected := 0
	offsets := Spread(jobs, 50*time.Millisecond)
	for _, j := range jobs {
		off := offsets[j.Name]
		sched := slotSchedule{interval: interval, offset: off}
		for t := sched.Next(start); t.Before(start.Add(*soak)); t = sched.Next(t) {
			expected++
		}
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lags)
	p := func(q float64) time.Duration { return lags[int(float64(len(lags)-1)*q)] }
	b.ReportMetric(100*float64(len(lags))/float64(expected), "%executed")
	b.ReportMetric(float64(p(0.5).Microseconds())/1000, "lag-p50-ms")
	b.ReportMetric(float64(p(0.99).Microseconds())/1000, "lag-p99-ms")
	b.ReportMetric(float64(len(lags))/wall.Seconds(), "runs/s")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%cpu")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(failures), "failures")
}

// peakRSS reads VmHWM from /proc/self/status, in bytes.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
