package probes

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// tlsServer accepts TLS connections with cert and completes the handshake.
func tlsServer(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
				c.Read(make([]byte, 1))
			}()
		}
	}()
	return l.Addr().String()
}

func TestTLS(t *testing.T) {
	ca := newCA(t)
	day := 24 * time.Hour
	fresh := tlsServer(t, ca.leaf(t, time.Now().Add(90*day)))
	warn := tlsServer(t, ca.leaf(t, time.Now().Add(20*day)))
	crit := tlsServer(t, ca.leaf(t, time.Now().Add(3*day)))
	expired := tlsServer(t, ca.leaf(t, time.Now().Add(-day)))
	caFile := ca.file(t)
	_, port, _ := net.SplitHostPort(fresh)

	tests := []struct {
		name    string
		spec    Spec
		outcome Outcome
		reason  Reason
	}{
		{"valid", Spec{Target: fresh, CAFile: caFile}, Up, ReasonOK},
		{"hostname by name", Spec{Target: "localhost:" + port, CAFile: caFile}, Up, ReasonOK},
		{"wrong hostname", Spec{Target: fresh, CAFile: caFile, ServerName: "api.example.com"}, Down, ReasonTLSError},
		{"untrusted", Spec{Target: fresh}, Down, ReasonTLSError},
		{"warn window", Spec{Target: warn, CAFile: caFile}, Degraded, ReasonCertExpiring},
		{"critical window", Spec{Target: crit, CAFile: caFile}, Down, ReasonCertExpiring},
		{"custom windows", Spec{Target: warn, CAFile: caFile, WarnDays: 10, CriticalDays: 5}, Up, ReasonOK},
		// An expired chain fails verification; with verification off the
		// probe still reports expiry precisely.
		{"expired verified", Spec{Target: expired, CAFile: caFile}, Down, ReasonTLSError},
		{"expired unverified", Spec{Target: expired, SkipTLSVerify: true}, Down, ReasonCertExpired},
		{"refused", Spec{Target: closedPort(t)}, Down, ReasonConnectionRefused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Kind = "tls"
			r := runWithin(mustProbe(t, tc.spec, Options{}), time.Second)
			if r.Outcome != tc.outcome || r.Reason != tc.reason {
				t.Fatalf("got %s/%s (%s), want %s/%s", r.Outcome, r.Reason, r.Message, tc.outcome, tc.reason)
			}
			if r.Reason != ReasonTLSError && r.Reason != ReasonConnectionRefused {
				if iss, _ := r.Details["issuer"].(string); !strings.Contains(iss, "Outpost Test CA") {
					t.Errorf("issuer detail = %q", iss)
				}
				if r.Details["not_after"] == nil {
					t.Error("no not_after detail")
				}
			}
		})
	}
	if _, err := New(Spec{Kind: "tls", Target: fresh, WarnDays: 5, CriticalDays: 10}, Options{}); err == nil {
		t.Error("critical_days above warn_days was accepted")
	}
}
