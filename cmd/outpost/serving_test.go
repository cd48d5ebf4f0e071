package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"
)

// TestBareServerWritesTheSameResponse: the bare server BenchmarkRealBinaryServing
// compares Outpost with sends what Outpost sent a gzip-accepting client,
// every header (but Date, which net/http writes itself) and the body, so
// the ratio prices Outpost's work and not a shorter response.
func TestBareServerWritesTheSameResponse(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte("<p>All systems operational</p>"), 50))
	zw.Close()
	outpost := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "public, max-age=10")
		h.Set("Vary", "Accept-Encoding")
		h.Set("ETag", `"abc-gz"`)
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Encoding", "gzip")
		w.Write(gz.Bytes())
	}))
	defer outpost.Close()
	bare, size := bareServer(t, outpost.URL+"/")
	if size != gz.Len() {
		t.Errorf("size %d, want %d", size, gz.Len())
	}
	want, wantBody := rawGet(t, outpost.URL+"/")
	got, gotBody := rawGet(t, bare)
	if got.StatusCode != want.StatusCode || !bytes.Equal(gotBody, wantBody) {
		t.Errorf("bare: %d, %d bytes; want %d, %d bytes", got.StatusCode, len(gotBody), want.StatusCode, len(wantBody))
	}
	delete(want.Header, "Date")
	delete(got.Header, "Date")
	for _, k := range slices.Sorted(maps.Keys(want.Header)) {
		if g, w := got.Header[k], want.Header[k]; !slices.Equal(g, w) {
			t.Errorf("bare %s: %q, want %q", k, g, w)
		}
	}
	for k := range got.Header {
		if _, ok := want.Header[k]; !ok {
			t.Errorf("bare sends %s, which Outpost did not", k)
		}
	}
}

// rawGet is a gzip-accepting GET whose body is read as sent.
func rawGet(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestMedian: the figure a serving run reports is the median of the pairs.
func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{[]float64{3}, 3}, {[]float64{0.9, 0.7, 1.2}, 0.9}, {[]float64{1, 4, 2, 3}, 2.5}, {[]float64{0.8, 0.95, 0.91, 1.1, 0.7}, 0.91}} {
		in := slices.Clone(tc.in)
		if got := median(in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("median reordered its input: %v", in)
		}
	}
}

// TestCPUTime: a process's CPU time is read from /proc and moves with the
// work it does (the parse takes the right fields: a wrong one stays put or
// jumps by hours).
func TestCPUTime(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	start, pid := cpuTime(t, os.Getpid()), os.Getpid()
	wall := time.Now()
	// Reading /proc in a loop is the work: system time counts.
	for deadline := wall.Add(5 * time.Second); cpuTime(t, pid)-start < 50*time.Millisecond; {
		if time.Now().After(deadline) {
			t.Fatalf("CPU time moved %v in 5 s of spinning", cpuTime(t, pid)-start)
		}
	}
	if spent, elapsed := cpuTime(t, pid)-start, time.Since(wall); spent > elapsed+100*time.Millisecond {
		t.Errorf("%v of CPU in %v of one goroutine's spinning", spent, elapsed)
	}
	if cpuTime(t, 0) != 0 {
		t.Error("pid 0 has a CPU time")
	}
}
