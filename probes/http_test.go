package probes

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHTTP(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"status":"ok","checks":[{"name":"db","healthy":true}],"version":"1.2.3"}`)
	})
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(60 * time.Millisecond) // the server is slow on purpose; the probe's verdict is what is tested
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	ca := newCA(t)
	tlsSrv := httptest.NewUnstartedServer(mux)
	tlsSrv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, time.Now().Add(90*24*time.Hour))}}
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)

	resolver := loopbackResolver(dnsServer(t, nil)) // every name is NXDOMAIN
	no := false
	tests := []struct {
		name    string
		spec    Spec
		outcome Outcome
		reason  Reason
		detail  string // a details key that must be present
	}{
		{"ok", Spec{Target: srv.URL + "/ok"}, Up, ReasonOK, "status_code"},
		{"status list", Spec{Target: srv.URL + "/500", Expect: &Expect{Status: []string{"500"}}}, Up, ReasonOK, ""},
		{"status class mismatch", Spec{Target: srv.URL + "/500"}, Down, ReasonStatusMismatch, "status_code"},
		{"status range", Spec{Target: srv.URL + "/500", Expect: &Expect{Status: []string{"200-299", "5xx"}}}, Up, ReasonOK, ""},
		{"body contains", Spec{Target: srv.URL + "/ok", Expect: &Expect{BodyContains: `"ok"`}}, Up, ReasonOK, ""},
		{"body missing", Spec{Target: srv.URL + "/ok", Expect: &Expect{BodyContains: "healthy\":false"}}, Down, ReasonBodyMismatch, ""},
		{"body not contains", Spec{Target: srv.URL + "/ok", Expect: &Expect{BodyNotContains: "checks"}}, Down, ReasonBodyMismatch, ""},
		{"regex", Spec{Target: srv.URL + "/ok", Expect: &Expect{BodyRegex: `version":"1\.\d+`}}, Up, ReasonOK, ""},
		{"regex mismatch", Spec{Target: srv.URL + "/ok", Expect: &Expect{BodyRegex: `version":"2\.`}}, Down, ReasonBodyMismatch, ""},
		{"json equals", Spec{Target: srv.URL + "/ok", Expect: &Expect{JSON: []JSONExpect{{Path: "checks.0.healthy", Equals: "true"}}}}, Up, ReasonOK, ""},
		{"json mismatch", Spec{Target: srv.URL + "/ok", Expect: &Expect{JSON: []JSONExpect{{Path: "status", Equals: "degraded"}}}}, Down, ReasonBodyMismatch, ""},
		{"json missing key", Spec{Target: srv.URL + "/ok", Expect: &Expect{JSON: []JSONExpect{{Path: "checks.3.name", Matches: "."}}}}, Down, ReasonBodyMismatch, ""},
		{"json matches", Spec{Target: srv.URL + "/ok", Expect: &Expect{JSON: []JSONExpect{{Path: "version", Matches: `^1\.`}}}}, Up, ReasonOK, ""},
		{"slow", Spec{Target: srv.URL + "/slow", Expect: &Expect{MaxLatency: 10 * time.Millisecond}}, Degraded, ReasonSlow, ""},
		{"timeout", Spec{Target: srv.URL + "/stall"}, Down, ReasonTimeout, ""},
		{"refused", Spec{Target: "http://" + closedPort(t) + "/"}, Down, ReasonConnectionRefused, ""},
		{"dns error", Spec{Target: "http://no-such-host.test:80/"}, Down, ReasonDNSError, ""},
		{"tls untrusted", Spec{Target: tlsSrv.URL + "/ok"}, Down, ReasonTLSError, ""},
		{"tls pinned ca", Spec{Target: tlsSrv.URL + "/ok", CAFile: ca.file(t)}, Up, ReasonOK, "tls_ms"},
		{"redirect followed", Spec{Target: srv.URL + "/redirect"}, Up, ReasonOK, ""},
		{"redirect not followed", Spec{Target: srv.URL + "/redirect", FollowRedirects: &no}, Down, ReasonStatusMismatch, ""},
		{"redirect loop", Spec{Target: srv.URL + "/loop"}, Down, ReasonConnectionError, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Kind = "http"
			p := mustProbe(t, tc.spec, Options{Version: "test", Resolver: resolver})
			// A generous deadline, so a TLS handshake on a loaded CI machine
			// under the race detector is not taken for a timeout; only the
			// stalling case waits for it.
			within := 10 * time.Second
			if tc.reason == ReasonTimeout {
				within = 300 * time.Millisecond
			}
			r := runWithin(p, within)
			if r.Outcome != tc.outcome || r.Reason != tc.reason {
				t.Fatalf("got %s/%s (%s), want %s/%s", r.Outcome, r.Reason, r.Message, tc.outcome, tc.reason)
			}
			if r.Latency <= 0 {
				t.Errorf("latency not measured: %v", r.Latency)
			}
			if tc.detail != "" && r.Details[tc.detail] == nil {
				t.Errorf("details %v lack %q", r.Details, tc.detail)
			}
		})
	}
}

func TestHTTPRequestShape(t *testing.T) {
	var ua, method, body, hdr string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua, method, hdr = r.UserAgent(), r.Method, r.Header.Get("X-Probe")
		b, _ := io.ReadAll(r.Body)
		body = string(b)
	}))
	defer srv.Close()
	p := mustProbe(t, Spec{Kind: "http", Target: srv.URL, Method: "post", Body: "ping", Headers: map[string]string{"X-Probe": "yes"}}, Options{Version: "1.0"})
	if r := runWithin(p, time.Second); r.Outcome != Up {
		t.Fatalf("got %+v", r)
	}
	if ua != "Outpost/1.0" || method != "POST" || body != "ping" || hdr != "yes" {
		t.Fatalf("request: ua=%q method=%q body=%q header=%q", ua, method, body, hdr)
	}
}

// The body read is bounded: a huge body does not blow memory, and a match
// beyond the limit is not judged on a cut body.
func TestHTTPBodyLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 4096)+"needle")
	}))
	defer srv.Close()
	p := mustProbe(t, Spec{Kind: "http", Target: srv.URL, MaxBodyBytes: 1024, Expect: &Expect{BodyContains: "needle"}}, Options{})
	if r := runWithin(p, time.Second); r.Reason != ReasonBodyTooLarge {
		t.Fatalf("got %s, want body_too_large: a match past the read limit cannot be judged", r.Reason)
	}
	// A check that judges only the status is not failed by a long body.
	p = mustProbe(t, Spec{Kind: "http", Target: srv.URL, MaxBodyBytes: 1024}, Options{})
	if r := runWithin(p, time.Second); r.Outcome != Up {
		t.Fatalf("got %s %s, want up: the body is not judged", r.Outcome, r.Reason)
	}
}

func TestHTTPInvalidSpec(t *testing.T) {
	tests := []struct {
		spec  Spec
		field string
	}{
		{Spec{Target: "ftp://x"}, "target"},
		{Spec{Target: "http://x", Expect: &Expect{Status: []string{"abc"}}}, "expect.status"},
		{Spec{Target: "http://x", Expect: &Expect{Status: []string{"300-200"}}}, "expect.status"},
		{Spec{Target: "http://x", Expect: &Expect{BodyRegex: "("}}, "expect.body_regex"},
		{Spec{Target: "http://x", Expect: &Expect{JSON: []JSONExpect{{Path: "a"}}}}, "expect.json[0]"},
		{Spec{Target: "http://x", CAFile: "/nonexistent/ca.pem"}, "ca_file"},
	}
	for _, tc := range tests {
		tc.spec.Kind = "http"
		_, err := New(tc.spec, Options{})
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != tc.field {
			t.Errorf("New(%+v) = %v, want a FieldError on %s", tc.spec, err, tc.field)
		}
	}
}
