package probes

import (
	"reflect"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestDNS(t *testing.T) {
	srv := dnsServer(t, map[string][]dns.RR{
		"example.test.": {
			rr(t, "example.test. 60 IN A 192.0.2.10"), rr(t, "example.test. 60 IN A 192.0.2.11"),
			rr(t, "example.test. 60 IN MX 10 mail.example.test."),
			rr(t, `example.test. 60 IN TXT "v=spf1 -all"`),
			rr(t, "example.test. 60 IN NS ns1.example.test."),
			rr(t, "example.test. 60 IN AAAA 2001:db8::1"),
		},
		"www.example.test.":       {rr(t, "www.example.test. 60 IN CNAME example.test.")},
		"_sip._tcp.example.test.": {rr(t, "_sip._tcp.example.test. 60 IN SRV 10 5 5060 sip.example.test.")},
	})
	tests := []struct {
		name    string
		spec    Spec
		outcome Outcome
		reason  Reason
	}{
		{"A exact", Spec{Target: "example.test", Expect: &Expect{Values: []string{"192.0.2.11", "192.0.2.10"}}}, Up, ReasonOK},
		{"A over tcp", Spec{Target: "example.test", Protocol: "tcp", Expect: &Expect{ValuesContain: []string{"192.0.2.10"}}}, Up, ReasonOK},
		{"A mismatch", Spec{Target: "example.test", Expect: &Expect{Values: []string{"192.0.2.10"}}}, Down, ReasonAnswerMismatch},
		{"AAAA", Spec{Target: "example.test", RecordType: "AAAA", Expect: &Expect{Values: []string{"2001:db8::1"}}}, Up, ReasonOK},
		{"CNAME", Spec{Target: "www.example.test", RecordType: "CNAME", Expect: &Expect{Values: []string{"example.test."}}}, Up, ReasonOK},
		{"MX", Spec{Target: "example.test", RecordType: "mx", Expect: &Expect{ValuesContain: []string{"10 mail.example.test"}}}, Up, ReasonOK},
		{"TXT", Spec{Target: "example.test", RecordType: "TXT", Expect: &Expect{Values: []string{"v=spf1 -all"}}}, Up, ReasonOK},
		{"NS", Spec{Target: "example.test", RecordType: "NS", Expect: &Expect{Values: []string{"ns1.example.test"}}}, Up, ReasonOK},
		{"SRV", Spec{Target: "_sip._tcp.example.test", RecordType: "SRV", Expect: &Expect{Values: []string{"10 5 5060 sip.example.test."}}}, Up, ReasonOK},
		{"NXDOMAIN unexpected", Spec{Target: "missing.test"}, Down, ReasonRcodeMismatch},
		{"NXDOMAIN expected", Spec{Target: "missing.test", Expect: &Expect{Rcode: "NXDOMAIN"}}, Up, ReasonOK},
		{"slow", Spec{Target: "example.test", Expect: &Expect{MaxLatency: time.Nanosecond}}, Degraded, ReasonSlow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Kind, tc.spec.Resolver = "dns", srv
			r := runWithin(mustProbe(t, tc.spec, Options{}), time.Second)
			if r.Outcome != tc.outcome || r.Reason != tc.reason {
				t.Fatalf("got %s/%s (%s), want %s/%s", r.Outcome, r.Reason, r.Message, tc.outcome, tc.reason)
			}
		})
	}
	t.Run("answers detail", func(t *testing.T) {
		r := runWithin(mustProbe(t, Spec{Kind: "dns", Target: "example.test", Resolver: srv}, Options{}), time.Second)
		if want := []string{"192.0.2.10", "192.0.2.11"}; !reflect.DeepEqual(r.Details["answers"], want) {
			t.Fatalf("answers = %v, want %v", r.Details["answers"], want)
		}
	})
	t.Run("no server", func(t *testing.T) {
		r := runWithin(mustProbe(t, Spec{Kind: "dns", Target: "example.test", Resolver: closedPort(t), Protocol: "tcp"}, Options{}), time.Second)
		if r.Outcome != Down || r.Reason != ReasonConnectionRefused {
			t.Fatalf("got %s/%s", r.Outcome, r.Reason)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		// A UDP socket that never answers.
		silent := closedPortUDP(t)
		r := runWithin(mustProbe(t, Spec{Kind: "dns", Target: "example.test", Resolver: silent}, Options{}), 100*time.Millisecond)
		if r.Outcome != Down || r.Reason != ReasonTimeout {
			t.Fatalf("got %s/%s (%s)", r.Outcome, r.Reason, r.Message)
		}
	})
	for _, bad := range []Spec{
		{Target: "x", Resolver: srv, RecordType: "PTR"},
		{Target: "x"},
		{Target: "x", Resolver: srv, Protocol: "quic"},
		{Target: "x", Resolver: srv, Expect: &Expect{Rcode: "WHATEVER"}},
	} {
		bad.Kind = "dns"
		if _, err := New(bad, Options{}); err == nil {
			t.Errorf("New(%+v) accepted", bad)
		}
	}
}
