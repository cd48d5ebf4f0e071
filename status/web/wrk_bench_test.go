package web

import (
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// BenchmarkWrk compares Outpost's handler with a minimal net/http server
// writing the same gzip'd bytes from memory, under the same wrk load, in
// the same run. Bounded: each wrk run is -d seconds on loopback.
//
//	go test ./status/web -run '^$' -bench Wrk -benchtime 1x
func BenchmarkWrk(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk is not installed (apt-get install wrk)")
	}
	s, _ := testServer(b)
	page := s.current.Load().routes["/"]
	for _, path := range []string{"/"} {
		ours := serveOn(b, s.Handler())
		base := serveOn(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", page.ContentType)
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Length", strconv.Itoa(len(page.Gzip)))
			_, _ = w.Write(page.Gzip)
		}))
		o := runWrk(b, "http://"+ours+path)
		bl := runWrk(b, "http://"+base+path)
		b.ReportMetric(o.rps, "outpost-req/s")
		b.ReportMetric(bl.rps, "baseline-req/s")
		b.ReportMetric(100*o.rps/bl.rps, "%of-baseline")
		b.ReportMetric(o.p99, "outpost-p99-ms")
		b.ReportMetric(bl.p99, "baseline-p99-ms")
	}
}

func serveOn(b *testing.B, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

type wrkResult struct{ rps, p99 float64 }

var (
	rpsRe = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	p99Re = regexp.MustCompile(`99%\s+([0-9.]+)(us|ms|s)`)
)

func runWrk(b *testing.B, url string) wrkResult {
	out, err := exec.Command("wrk", "-t2", "-c64", "-d15s", "--latency", "-H", "Accept-Encoding: gzip", url).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	m, p := rpsRe.FindSubmatch(out), p99Re.FindSubmatch(out)
	if m == nil || p == nil {
		b.Fatalf("cannot read wrk output:\n%s", out)
	}
	rps, _ := strconv.ParseFloat(string(m[1]), 64)
	p99, _ := strconv.ParseFloat(string(p[1]), 64)
	switch string(p[2]) {
	case "us":
		p99 /= 1000
	case "s":
		p99 *= 1000
	}
	return wrkResult{rps: rps, p99: p99}
}
