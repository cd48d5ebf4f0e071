package probes

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// stalledListener listens on [::1]:port with a full accept queue: further
// connects get no answer (their SYNs are dropped), as a host whose IPv6
// path is broken. It returns false when it cannot make one here.
func stalledListener(t *testing.T, port int) bool {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET6, syscall.SOCK_STREAM, 0)
	if err != nil {
		return false
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if syscall.Bind(fd, &syscall.SockaddrInet6{Port: port, Addr: [16]byte{15: 1}}) != nil || syscall.Listen(fd, 0) != nil {
		return false
	}
	for range 8 { // fill the queue (nobody accepts) until a connect stalls
		c, err := net.DialTimeout("tcp", "[::1]:"+strconv.Itoa(port), 200*time.Millisecond)
		if err != nil {
			return true
		}
		t.Cleanup(func() { c.Close() })
	}
	return false
}

// The phase timings are written from every connection attempt: Go races
// IPv6 and IPv4 (Happy Eyeballs) when the first family's connect stalls
// past 300 ms, and each redirect is a new round trip. Under -race this
// failed before the timings were kept per round trip, under a lock.
func TestHTTPTimingsWithRacingConnectsAndRedirects(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if !stalledListener(t, port) {
		t.Skip("cannot make a stalled IPv6 listener here")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	resolver := loopbackResolver(dnsServer(t, map[string][]dns.RR{
		"dual.test.": {rr(t, "dual.test. 60 IN AAAA ::1"), rr(t, "dual.test. 60 IN A 127.0.0.1")},
	}))
	p := mustProbe(t, Spec{Kind: "http", Target: "http://dual.test:" + strconv.Itoa(port) + "/hop"}, Options{Version: "test", Resolver: resolver})
	r := runWithin(p, 10*time.Second)
	if r.Outcome != Up {
		t.Fatalf("got %s/%s (%s)", r.Outcome, r.Reason, r.Message)
	}
	if c, ok := r.Details["connect_ms"].(float64); !ok || c <= 0 || c > 250 {
		t.Errorf("connect_ms %v: want the connection that won (IPv4, fast), not the stalled attempt", r.Details["connect_ms"])
	}
}
