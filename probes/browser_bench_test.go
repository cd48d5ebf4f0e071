package probes

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkBrowser5Steps runs a 5-step login journey 100 times in one
// headless Chromium against a local site, and reports the time per run,
// Outpost's own RSS growth over the runs (target: within 10 MiB) and the
// memory of the Chromium processes.
//
//	go test ./probes -run '^$' -bench Browser5Steps -benchtime 1x
func BenchmarkBrowser5Steps(b *testing.B) {
	br := NewBrowser(chromium(b), "", 1)
	defer br.Close()
	app := loginApp(b)
	p, err := New(Spec{Kind: "browser", Steps: []Step{
		{Goto: app.URL + "/login"},
		{Fill: &Fill{Selector: "#user", Value: "probe"}},
		{Fill: &Fill{Selector: "#password", Value: "pw"}},
		{Click: "#go"},
		{WaitFor: "#welcome", Timeout: 5 * time.Second},
	}}, Options{Browser: br})
	if err != nil {
		b.Fatal(err)
	}
	run := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if r := p.Run(ctx); r.Outcome != Up {
			b.Fatalf("%+v", r)
		}
	}
	run() // the browser starts
	runtime.GC()
	before := rssOf("self")
	b.ResetTimer()
	start := time.Now()
	const runs = 100
	for range runs {
		run()
	}
	per := time.Since(start) / runs
	b.StopTimer()
	runtime.GC()
	b.ReportMetric(float64(per.Milliseconds()), "ms/run")
	b.ReportMetric(float64(rssOf("self")-before)/(1<<20), "outpost-RSS-growth-MiB")
	b.ReportMetric(float64(chromiumRSS())/(1<<20), "chromium-RSS-MiB")
}

// rssOf is a process's resident memory from /proc/PID/status, in bytes.
func rssOf(pid string) int64 {
	raw, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// chromiumRSS sums the resident memory of this process's Chromium
// children (and theirs).
func chromiumRSS() int64 {
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var sum int64
	for _, d := range dirs {
		cmd, err := os.ReadFile(d)
		if err != nil || !strings.Contains(string(cmd), "chromium") || !strings.Contains(string(cmd), "--headless") {
			continue
		}
		sum += rssOf(filepath.Base(filepath.Dir(d)))
	}
	return sum
}
