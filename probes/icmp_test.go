package probes

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestICMPSpecErrors(t *testing.T) {
	loss := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		spec  Spec
		field string
	}{
		{Spec{Kind: "icmp", Target: "example.com:80"}, "target"},
		{Spec{Kind: "icmp", Target: "http://example.com/"}, "target"},
		{Spec{Kind: "icmp", Target: "127.0.0.1", Count: 21}, "count"},
		{Spec{Kind: "icmp", Target: "127.0.0.1", Count: -1}, "count"},
		{Spec{Kind: "icmp", Target: "127.0.0.1", Expect: &Expect{PacketLoss: loss(100)}}, "expect.packet_loss"},
		{Spec{Kind: "icmp", Target: "127.0.0.1", Expect: &Expect{PacketLoss: loss(-1)}}, "expect.packet_loss"},
	} {
		_, err := New(tc.spec, Options{})
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%+v: %v, want an error on %s", tc.spec, err, tc.field)
		}
	}
	for _, target := range []string{"127.0.0.1", "::1", "localhost", "fe80::1"} {
		if _, err := New(Spec{Kind: "icmp", Target: target}, Options{}); err != nil {
			t.Errorf("%s: %v", target, err)
		}
	}
}

// The ICMP probe pings loopback addresses (IPv4 and IPv6) in network
// namespaces of the test's own, one per way the kernel can let it:
// unprivileged ping sockets where net.ipv4.ping_group_range includes the
// test's group, raw sockets as root where it does not, and no reply at all
// where the kernel ignores echo requests. Each runs this test binary again
// inside `unshare --net` (root; under CI the test must run).
func TestICMPInNamespaces(t *testing.T) {
	if os.Getenv("OUTPOST_ICMP_CHILD") != "" {
		t.Skip("the child runs TestICMPChild")
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("this test creates network namespaces and needs root under CI")
		}
		t.Skip("creating network namespaces needs root")
	}
	for _, tc := range []struct{ name, setup string }{
		{"unprivileged", `sysctl -qw net.ipv4.ping_group_range="0 2147483647"`},
		{"raw", `sysctl -qw net.ipv4.ping_group_range="1 0"`},
		{"silent", `sysctl -qw net.ipv4.ping_group_range="1 0" && sysctl -qw net.ipv4.icmp_echo_ignore_all=1 && sysctl -qw net.ipv6.icmp.echo_ignore_all=1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "unshare", "--net", "--", "sh", "-c",
				`ip link set lo up && `+tc.setup+` && exec "$0" -test.run '^TestICMPChild$' -test.v -test.count=1`, os.Args[0])
			cmd.Env = append(os.Environ(), "OUTPOST_ICMP_CHILD="+tc.name)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS: TestICMPChild") {
				t.Fatalf("child (%s): %v\n%s", tc.name, err, out)
			}
		})
	}
}

// TestICMPChild runs inside a namespace made by TestICMPInNamespaces.
func TestICMPChild(t *testing.T) {
	mode := os.Getenv("OUTPOST_ICMP_CHILD")
	if mode == "" {
		t.Skip("run by TestICMPInNamespaces")
	}
	for _, target := range []string{"127.0.0.1", "127.0.0.53", "::1"} {
		p, err := New(Spec{Kind: "icmp", Target: target, Count: 3, Expect: &Expect{MaxLatency: time.Second}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r := p.Run(ctx)
		cancel()
		switch mode {
		case "silent":
			if r.Outcome != Down || r.Reason != ReasonTimeout || r.Details["received"] != 0 {
				t.Errorf("%s ignored: %+v", target, r)
			}
		default:
			if r.Outcome != Up || r.Details["mode"] != mode || r.Details["received"] != 3 || r.Details["packet_loss"] != 0.0 ||
				r.Details["rtt_avg_ms"] == nil {
				t.Errorf("%s (%s): %+v", target, mode, r)
			}
		}
	}
	if mode == "silent" {
		return
	}
	// Slower than max_latency: degraded. A name that does not resolve (the
	// namespace has no network, so no query leaves it): a DNS error.
	for _, tc := range []struct {
		spec    Spec
		outcome Outcome
		reason  Reason
	}{
		{Spec{Kind: "icmp", Target: "::1", Count: 2, Expect: &Expect{MaxLatency: time.Nanosecond}}, Degraded, ReasonSlow},
		{Spec{Kind: "icmp", Target: "no-such-host.invalid", Count: 1}, Down, ReasonDNSError},
	} {
		p, err := New(tc.spec, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r := p.Run(ctx)
		cancel()
		if r.Outcome != tc.outcome || r.Reason != tc.reason {
			t.Errorf("%s: %+v, want %s %s", tc.spec.Target, r, tc.outcome, tc.reason)
		}
	}
}
