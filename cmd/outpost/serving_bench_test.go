package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkRealBinaryServing compares the real `outpost serve` process,
// probing its 50 components meanwhile, with a bare net/http server writing
// the same bytes (the same status, Content-Type, Content-Encoding and
// length, nothing else), under the same wrk load, one after the other in
// the same run, for the page, the Statuspage summary and a badge. Bounded:
// wrk -t2 -c64 -d8s four times per path, about two minutes in all.
//
//	go test ./cmd/outpost -run '^$' -bench RealBinaryServing -benchtime 1x
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
			ours, theirs, size := servingRatio(b, base+p)
			b.ReportMetric(ours, "outpost-req/s")
			b.ReportMetric(theirs, "bare-req/s")
			b.ReportMetric(100*ours/theirs, "%of-bare")
			b.ReportMetric(float64(size), "body-bytes")
		})
	}
}

// servingRatio measures url against a bare net/http server writing the
// same bytes (fetched as a gzip-accepting client gets them, headers and
// all): two rounds in turn, the better of each, so the order and a passing
// burst of probing weigh less. Requests/s of each, and the body's size.
func servingRatio(tb testing.TB, url string) (ours, bare float64, size int) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req) // the bytes as sent, gzip and all
	if err != nil {
		tb.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	ctype, enc := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Encoding")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		if enc != "" {
			w.Header().Set("Content-Encoding", enc)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	for range 2 {
		ours = max(ours, wrkRate(tb, url))
		bare = max(bare, wrkRate(tb, "http://"+ln.Addr().String()+"/"))
	}
	return ours, bare, len(body)
}

var requestsPerSec = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

// wrkRate runs wrk -t2 -c64 for 8 s with gzip accepted: requests/s.
func wrkRate(b testing.TB, url string) float64 {
	out, err := exec.Command("wrk", "-t2", "-c64", "-d8s", "-H", "Accept-Encoding: gzip", url).CombinedOutput()
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
