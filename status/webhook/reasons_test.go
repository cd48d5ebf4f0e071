package webhook

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/notify"
)

// Real failures against local servers come out as their public reasons,
// whatever words the URL holds; texts Outpost writes itself too.
func TestReasonOfRealFailures(t *testing.T) {
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	hang, _ := net.Listen("tcp", "127.0.0.1:0") // accepts (the kernel does) and never answers
	defer hang.Close()
	hangup, _ := net.Listen("tcp", "127.0.0.1:0")
	defer hangup.Close()
	go func() {
		for {
			c, err := hangup.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer failing.Close()

	loopback := func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	noHost := func(_ context.Context, h string) ([]netip.Addr, error) {
		return nil, &net.DNSError{Err: "no such host", Name: h, IsNotFound: true}
	}
	open := ClientOptions{AllowPrivate: true, Timeout: 10 * time.Second} // a slow machine's handshake is no timeout
	short := ClientOptions{AllowPrivate: true, Timeout: 300 * time.Millisecond}
	port := func(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
	for _, tc := range []struct {
		name   string
		o      ClientOptions
		url    string
		want   string // as admins see it
		public string // as the anonymous owner does
	}{
		{"a name inside", ClientOptions{Resolver: loopback}, "http://hooks.inside.test:" + port(closedAddr) + "/h", ReasonRefusedAddress, ReasonUnreachableHost},
		{"nothing listening", open, "http://" + closedAddr + "/h", ReasonConnectionRefused, ReasonUnreachableHost},
		{"words in the URL", ClientOptions{AllowPrivate: true, Resolver: loopback}, "http://tls-x509-timeout.test:" + port(closedAddr) + "/certificate/no-such-host", ReasonConnectionRefused, ReasonUnreachableHost},
		{"no answer", short, "http://" + hang.Addr().String() + "/h", ReasonTimeout, ReasonTimeout},
		{"hung up", open, "http://" + hangup.Addr().String() + "/h", ReasonConnectionError, ReasonConnectionError},
		{"untrusted certificate", open, tlsSrv.URL + "/h", ReasonTLSError, ReasonTLSError},
		{"no such host", ClientOptions{AllowPrivate: true, Resolver: noHost}, "http://gone.test/h", ReasonDNSError, ReasonUnreachableHost},
		{"502", open, failing.URL + "/h", ReasonHTTPStatus, ReasonHTTPStatus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := NewClient(tc.o).Post(tc.url, "application/json", strings.NewReader("{}"))
			if err == nil {
				err = notify.ClassifyHTTP(resp, "receiver") // as attempt does
				resp.Body.Close()
			}
			if err == nil {
				t.Fatal("no failure")
			}
			if got := Reason(err.Error()); got != tc.want {
				t.Errorf("Reason(%q) = %q, want %q", err, got, tc.want)
			}
			if got := PublicReason(err.Error()); got != tc.public {
				t.Errorf("PublicReason(%q) = %q, want %q", err, got, tc.public)
			}
		})
	}
	for raw, want := range map[string]string{
		"": "",
		`the answer did not echo the challenge (expected a JSON body {"challenge": "<data.challenge>"})`: ReasonNoEcho,
		"not sent: subscription deleted":  ReasonCancelled,
		"webhook body: json: unsupported": ReasonDeliveryError,
		"something nobody wrote down":     ReasonDeliveryError,
	} {
		if got := Reason(raw); got != want {
			t.Errorf("Reason(%q) = %q, want %q", raw, got, want)
		}
	}
	for raw, want := range map[string][2]string{ // admin, owner
		"deliveries failing since 2026-12-06T05:14:00Z; last error: receiver: HTTP 410 Gone":                                             {ReasonHTTPStatus, ReasonHTTPStatus},
		`not verified: Post "http://a.test/": dial tcp 10.0.0.7:80: ` + ErrRefusedAddress.Error() + `: 10.0.0.7 is not a public address`: {ReasonRefusedAddress, ReasonUnreachableHost},
		"": {"", ""},
	} {
		if got := [2]string{subReason(raw, true), subReason(raw, false)}; got != want {
			t.Errorf("subReason(%q) = %q, want %q", raw, got, want)
		}
	}
}
