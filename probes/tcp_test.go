package probes

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// banner serves a greeting, or echoes what it reads when echo is set.
func bannerServer(t *testing.T, greeting string, echo bool) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
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
				if echo {
					line, _ := bufio.NewReader(c).ReadString('\n')
					c.Write([]byte("+" + line))
					return
				}
				if greeting != "" {
					c.Write([]byte(greeting))
				}
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				c.Read(make([]byte, 1)) // hold the connection open until the client leaves
			}()
		}
	}()
	return l.Addr().String()
}

func TestTCP(t *testing.T) {
	smtp := bannerServer(t, "220 mail.example ESMTP\r\n", false)
	silent := bannerServer(t, "", false)
	echo := bannerServer(t, "", true)
	tests := []struct {
		name    string
		spec    Spec
		outcome Outcome
		reason  Reason
	}{
		{"connect", Spec{Target: smtp}, Up, ReasonOK},
		{"banner", Spec{Target: smtp, Expect: &Expect{Banner: "ESMTP"}}, Up, ReasonOK},
		{"banner mismatch", Spec{Target: smtp, Expect: &Expect{Banner: "IMAP"}}, Down, ReasonBannerMismatch},
		{"send and expect", Spec{Target: echo, Send: "PING\n", Expect: &Expect{Banner: "+PING"}}, Up, ReasonOK},
		{"silent server times out", Spec{Target: silent, Expect: &Expect{Banner: "220"}}, Down, ReasonTimeout},
		{"refused", Spec{Target: closedPort(t)}, Down, ReasonConnectionRefused},
		{"dns error", Spec{Target: "no-such-host.test:25"}, Down, ReasonDNSError},
	}
	resolver := loopbackResolver(dnsServer(t, nil))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Kind = "tcp"
			r := runWithin(mustProbe(t, tc.spec, Options{Resolver: resolver}), 200*time.Millisecond)
			if r.Outcome != tc.outcome || r.Reason != tc.reason {
				t.Fatalf("got %s/%s (%s), want %s/%s", r.Outcome, r.Reason, r.Message, tc.outcome, tc.reason)
			}
		})
	}
	if _, err := New(Spec{Kind: "tcp", Target: "no-port"}, Options{}); err == nil {
		t.Error("a target without a port was accepted")
	}
}
