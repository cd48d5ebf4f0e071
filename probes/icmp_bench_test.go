package probes

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkICMP1k runs 1,000 icmp checks (3 echo requests each) at a 10 s
// interval against 1,000 addresses of 127.0.0.0/8 for -soak, in a network
// namespace of its own, once with unprivileged ping sockets and once with
// raw sockets (root), and reports the share of runs executed, failures,
// CPU and peak RSS of each. Each mode runs in a child (this test binary
// inside `unshare --net`), so neither's figures include the other's.
//
//	go test ./probes -run '^$' -bench ICMP1k -benchtime 1x -soak 30s
func BenchmarkICMP1k(b *testing.B) {
	if mode := os.Getenv("OUTPOST_ICMP_BENCH_CHILD"); mode != "" {
		icmpSoak(b, mode)
		return
	}
	if os.Geteuid() != 0 {
		b.Skip("network namespaces and raw sockets need root")
	}
	for _, tc := range []struct{ mode, groups string }{{"unprivileged", "0 2147483647"}, {"raw", "1 0"}} {
		b.Run(tc.mode, func(b *testing.B) {
			cmd := exec.Command("unshare", "--net", "--", "sh", "-c",
				`ip link set lo up && sysctl -qw net.ipv4.ping_group_range="`+tc.groups+`" && exec "$0" -test.run '^$' -test.bench '^BenchmarkICMP1k$' -test.benchtime 1x -soak `+soak.String(),
				os.Args[0])
			cmd.Env = append(os.Environ(), "OUTPOST_ICMP_BENCH_CHILD="+tc.mode)
			out, err := cmd.CombinedOutput()
			if err != nil {
				b.Fatalf("child: %v\n%s", err, out)
			}
			// Report the child's figures as this sub-benchmark's.
			sc := bufio.NewScanner(strings.NewReader(string(out)))
			found := false
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkICMP1k") {
					continue
				}
				found = true
				for i := 2; i+1 < len(f); i += 2 { // name, iterations, then value-unit pairs
					if v, err := strconv.ParseFloat(f[i], 64); err == nil && f[i+1] != "ns/op" {
						b.ReportMetric(v, f[i+1])
					}
				}
			}
			if !found {
				b.Fatalf("no figures from the child:\n%s", out)
			}
		})
	}
}

// icmpSoak is the measurement, in the child.
func icmpSoak(b *testing.B, mode string) {
	const checks, interval = 1000, 10 * time.Second
	var jobs []Job
	for i := range checks {
		target := fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250)
		p, err := New(Spec{Kind: "icmp", Target: target, Count: 3}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		jobs = append(jobs, Job{Name: fmt.Sprintf("ping-%04d", i), Probe: p, Interval: interval, Timeout: 5 * time.Second})
	}
	var mu sync.Mutex
	runs, failures, wrongMode := 0, 0, 0
	sink := func(r Report) {
		mu.Lock()
		defer mu.Unlock()
		runs++
		if r.Result.Outcome != Up {
			failures++
		}
		if r.Result.Details["mode"] != mode {
			wrongMode++
		}
	}
	s, err := NewScheduler(jobs, SchedulerOptions{Sink: sink, Concurrency: 256})
	if err != nil {
		b.Fatal(err)
	}
	var ru0, ru1 syscall.Rusage
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
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	expected := 0
	offsets := Spread(jobs, 50*time.Millisecond)
	for _, j := range jobs {
		sched := slotSchedule{interval: interval, offset: offsets[j.Name]}
		for t := sched.Next(start); t.Before(start.Add(*soak)); t = sched.Next(t) {
			expected++
		}
	}
	mu.Lock()
	defer mu.Unlock()
	b.ReportMetric(100*float64(runs)/float64(expected), "%executed")
	b.ReportMetric(float64(failures), "failures")
	b.ReportMetric(float64(wrongMode), "runs-in-another-mode")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%cpu")
	b.ReportMetric(cpu.Seconds()*1000/float64(max(runs, 1)), "cpu-ms/run")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
}
