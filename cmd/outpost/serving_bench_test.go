package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// servingProfile: BenchmarkRealBinaryServing also takes a CPU profile of
// the binary under one more wrk round on each path, into this folder.
var servingProfile = flag.String("serving.profile", "", "BenchmarkRealBinaryServing writes cpu-PATH.pprof here")

// BenchmarkRealBinaryServing compares the real `outpost serve` process,
// probing its 50 components meanwhile, with a bare net/http server writing
// the same response (status, every header but Date, body), under the same
// wrk load, in turn in the same run, for the page, the Statuspage summary
// and a badge: %of-bare is the median of the per-pair ratios (each pair
// logged), and each server's CPU time per request (its median). Bounded: wrk -t2 -c64 -d4s ten times per path, 40 s a path.
//
//	go test ./cmd/outpost -run '^$' -bench RealBinaryServing -benchtime 1x [-scale.bin B] [-serving.profile DIR]
func BenchmarkRealBinaryServing(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk is not installed (apt-get install wrk)")
	}
	bin := *scaleBin // -scale.bin: the parent commit's binary, for a same-run comparison
	if bin == "" {
		bin = outpostBinary(b)
	}
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go target.Serve(tln)
	defer target.Close()
	var cfg strings.Builder
	listen, ops := freeAddr(b), freeAddr(b)
	fmt.Fprintf(&cfg, "site: {title: Serving}\nlisten: %s\noperators: {listen: %q}\ncomponents:\n", listen, ops)
	for i := range 50 {
		fmt.Fprintf(&cfg, "  - {id: c%d, name: Component %d, group: Group %d}\n", i, i, i/10)
	}
	cfg.WriteString("checks:\n")
	for i := range 50 {
		fmt.Fprintf(&cfg, "  - {name: check-%d, component: c%d, kind: http, target: \"http://%s/\", interval: 5s}\n", i, i, tln.Addr())
	}
	path := filepath.Join(b.TempDir(), "config.yaml")
	os.WriteFile(path, []byte(cfg.String()), 0o600)
	cmd := exec.Command(bin, "serve", "-config", path)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := "http://" + listen
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if body, err := fetch(base, "/api/v1/status"); err == nil && !strings.Contains(body, `"no_data"`) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("every component has not had data within 30 s")
		}
	}
	b.ResetTimer()
	for _, tc := range []struct{ name, path string }{{"page", "/"}, {"summary", "/api/v2/summary.json"}, {"badge", "/badge/c0.svg"}} {
		p := tc.path
		b.Run(tc.name, func(b *testing.B) {
			r := measureServing(b, base+p, cmd.Process.Pid, func() string { return gcPercentAt(b, "http://"+ops) })
			b.Logf("%s: per-pair %% of bare %s; CPU µs a request, outpost %s, bare %s; collector's target after each round %s",
				p, percents(r.ratios()), micros(r.oursCPU), micros(r.bareCPU), strings.Join(r.gogc, ", "))
			b.ReportMetric(median(r.ours), "outpost-req/s")
			b.ReportMetric(median(r.bare), "bare-req/s")
			b.ReportMetric(100*median(r.ratios()), "%of-bare")
			b.ReportMetric(float64(r.size), "body-bytes")
			b.ReportMetric(median(r.oursCPU), "outpost-cpu-µs/req")
			b.ReportMetric(median(r.bareCPU), "bare-cpu-µs/req")
			if *servingProfile != "" {
				profileServing(b, base+p, "http://"+ops, filepath.Join(*servingProfile, "cpu-"+tc.name+".pprof"))
			}
		})
	}
}

// servingRatio measures url against a bare net/http server writing the
// same bytes (fetched as a gzip-accepting client gets them, headers and
// all): requests/s of each (the median of its rounds) and the body's size.
// It logs every pair and the median of the per-pair ratios, the figure
// that says whether the goal is met.
func servingRatio(tb testing.TB, url string) (ours, bare float64, size int) {
	r := measureServing(tb, url, 0, nil)
	tb.Logf("%s: %d bytes; outpost %.0f, bare %.0f req/s; per-pair %% of bare %s; median %.1f %%",
		url, r.size, median(r.ours), median(r.bare), percents(r.ratios()), 100*median(r.ratios()))
	return median(r.ours), median(r.bare), r.size
}

// servingRounds rounds of servingRound each, Outpost then the bare server
// in turn: with wrk and both servers on two shared cores one round of each
// swings by 30 points and more, and a burst of probing or another
// engineer's job lands in one round, not in a pair's median.
const (
	servingRounds = 5
	servingRound  = 4 * time.Second
)

// servingRun is one path's rounds: requests/s of each server by round,
// and (with a pid to read) each server's CPU time per request served,
// which another job on the machine moves far less than the rates.
type servingRun struct {
	ours, bare       []float64
	oursCPU, bareCPU []float64 // µs a request
	gogc             []string  // the collector's target after each of Outpost's rounds, when asked
	size             int
}

// ratios are the per-pair ratios, Outpost's rate over the bare server's
// in the round that followed it.
func (r servingRun) ratios() []float64 {
	out := make([]float64, len(r.ours))
	for i := range r.ours {
		out[i] = r.ours[i] / r.bare[i]
	}
	return out
}

// measureServing alternates wrk rounds on url and on its bare copy, which
// this process serves; pid is the process serving url (0: CPU unknown);
// gogc, when not nil, reads the collector's target after each of
// Outpost's rounds (its pacer moves it under load, so a pair's ratio is
// read with it).
func measureServing(tb testing.TB, url string, pid int, gogc func() string) servingRun {
	bareURL, size := bareServer(tb, url)
	run := servingRun{size: size}
	for range servingRounds {
		rps, cpu := wrkCPU(tb, url, pid)
		run.ours, run.oursCPU = append(run.ours, rps), append(run.oursCPU, cpu)
		if gogc != nil {
			run.gogc = append(run.gogc, gogc())
		}
		rps, cpu = wrkCPU(tb, bareURL, os.Getpid())
		run.bare, run.bareCPU = append(run.bare, rps), append(run.bareCPU, cpu)
	}
	if pid == 0 {
		run.oursCPU, run.bareCPU = nil, nil
	}
	return run
}

// wrkCPU is a wrk round on url: requests/s, and the CPU time process pid
// spent per request meanwhile, in µs (0 with pid 0).
func wrkCPU(tb testing.TB, url string, pid int) (rps, micros float64) {
	before := cpuTime(tb, pid)
	rps = wrkRate(tb, url, servingRound)
	spent := cpuTime(tb, pid) - before
	return rps, float64(spent.Microseconds()) / (rps * servingRound.Seconds())
}

// cpuTime is the user and system CPU time process pid has used (0 for
// pid 0), from /proc/PID/stat in clock ticks of 10 ms (USER_HZ, 100 on
// Linux): a 4 s round of a core's work is 400 ticks.
func cpuTime(tb testing.TB, pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatalf("CPU time: %v", err)
	}
	// Fields after the command's closing parenthesis: state is the 3rd
	// field of the line, utime and stime the 14th and 15th.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		tb.Fatalf("CPU time: cannot read %q", b)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// bareServer serves, at the URL it returns until the test ends, the
// response url gave a gzip-accepting client: its status, every header but
// those net/http writes itself (Date), and its body. So a rate compared
// with it prices Outpost's work, not a shorter response.
func bareServer(tb testing.TB, url string) (bareURL string, size int) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req) // the bytes as sent, gzip and all
	if err != nil {
		tb.Fatal(err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	resp.Body.Close()
	if err != nil {
		tb.Fatal(err)
	}
	hdr := resp.Header.Clone()
	delete(hdr, "Date")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range hdr {
			h[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/", len(body)
}

// median of xs (not empty); xs is left as it was.
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// micros formats CPU times as "12.3, 11.9, …" (none: "-").
func micros(xs []float64) string {
	if len(xs) == 0 {
		return "-"
	}
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.1f", x)
	}
	return strings.Join(parts, ", ")
}

// percents formats ratios as "91.2 %, 88.0 %, …".
func percents(ratios []float64) string {
	parts := make([]string, len(ratios))
	for i, r := range ratios {
		parts[i] = fmt.Sprintf("%.1f %%", 100*r)
	}
	return strings.Join(parts, ", ")
}

// profileServing writes to file a 3 s CPU profile of the binary (from the
// operators' /debug/pprof/) taken while wrk loads url for 4 s.
func profileServing(b *testing.B, url, opsBase, file string) {
	type result struct {
		prof []byte
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get(opsBase + "/debug/pprof/profile?seconds=3")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		prof, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		got <- result{prof, err}
	}()
	wrkRate(b, url, servingRound)
	r := <-got
	if r.err != nil {
		b.Fatalf("CPU profile: %v", r.err)
	}
	if err := os.WriteFile(file, r.prof, 0o644); err != nil {
		b.Fatal(err)
	}
}

var requestsPerSec = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

// wrkRate runs wrk -t2 -c64 for d with gzip accepted: requests/s.
func wrkRate(b testing.TB, url string, d time.Duration) float64 {
	out, err := exec.Command("wrk", "-t2", "-c64", "-d"+strconv.Itoa(int(d.Seconds()))+"s", "-H", "Accept-Encoding: gzip", url).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	m := requestsPerSec.FindSubmatch(out)
	if m == nil {
		b.Fatalf("cannot read wrk output:\n%s", out)
	}
	rps, _ := strconv.ParseFloat(string(m[1]), 64)
	return rps
}

// gcPercentAt is go_gc_gogc_percent on the operators' /metrics at ops
// ("?" when it cannot be read: the figure is a note beside a ratio).
func gcPercentAt(tb testing.TB, ops string) string {
	body, err := fetch(ops, "/metrics")
	if err != nil {
		tb.Logf("collector's target: %v", err)
		return "?"
	}
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(line, "go_gc_gogc_percent "); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
