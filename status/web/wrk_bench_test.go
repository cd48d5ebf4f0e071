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
// writing the same bytes from memory (or the same 304), under the same wrk
// load, in the same run, for the page, the Statuspage summary, the Atom
// feed, a badge, and a conditional GET. Bounded: each wrk run is 15 s on
// loopback; the whole benchmark takes about 2.5 minutes.
//
//	go test ./status/web -run '^$' -bench Wrk -benchtime 1x
func BenchmarkWrk(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk is not installed (apt-get install wrk)")
	}
	s, _ := testServer(b)
	ours := serveOn(b, s.Handler())
	for _, tc := range []struct {
		name, path  string
		notModified bool
	}{
		{"page", "/", false}, {"summary", "/api/v2/summary.json", false}, {"atom", "/feed.atom", false},
		{"badge", "/badge/api.svg", false}, {"page-304", "/", true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := s.current.Load().route(tc.path)
			body, etag := p.Body, p.ETag
			if p.Gzip != nil {
				body, etag = p.Gzip, p.GzipETag
			}
			base := serveOn(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.notModified {
					// RFC 9110 §15.4.5: a 304 carries the validators and
					// cache headers the 200 would have.
					w.Header().Set("ETag", etag)
					w.Header().Set("Cache-Control", p.CacheControl)
					w.Header().Set("Vary", "Accept-Encoding")
					w.WriteHeader(http.StatusNotModified)
					return
				}
				w.Header().Set("Content-Type", p.ContentType)
				if p.Gzip != nil {
					w.Header().Set("Content-Encoding", "gzip")
				}
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				_, _ = w.Write(body)
			}))
			var hdr []string
			if tc.notModified {
				hdr = []string{"-H", "If-None-Match: " + etag}
			}
			o := runWrk(b, "http://"+ours+tc.path, hdr...)
			bl := runWrk(b, "http://"+base+tc.path, hdr...)
			b.ReportMetric(o.rps, "outpost-req/s")
			b.ReportMetric(bl.rps, "baseline-req/s")
			b.ReportMetric(100*o.rps/bl.rps, "%of-baseline")
			b.ReportMetric(o.p99, "outpost-p99-ms")
			b.ReportMetric(bl.p99, "baseline-p99-ms")
		})
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

func runWrk(b *testing.B, url string, extra ...string) wrkResult {
	return runWrkArgs(b, url, append([]string{"-t2", "-c64"}, extra...)...)
}

// runWrkArgs runs wrk for 15 s with the given threads, connections and
// more.
func runWrkArgs(b *testing.B, url string, extra ...string) wrkResult {
	args := append([]string{"-d15s", "--latency", "-H", "Accept-Encoding: gzip"}, extra...)
	out, err := exec.Command("wrk", append(args, url)...).CombinedOutput()
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
