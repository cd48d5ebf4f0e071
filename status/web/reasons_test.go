package web

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/webhook"
)

// A subscription's failures are told to its anonymous owner as a reason
// from a fixed vocabulary, never as the raw error: "dial tcp
// 127.0.0.1:8500: ... is not a public address" for a name Outpost
// resolves inside its own network would make the subscription API a DNS
// oracle. Nor may the reason itself tell a name that exists inside
// (refused_address) from one that does not (dns_error): the owner of
// either reads unreachable_host. Admins see the fine reason and the raw
// text.
func TestSubscriptionFailuresArePublicReasons(t *testing.T) {
	snap, st := fixture(t)
	// A name that resolves, inside Outpost's network, to a loopback address
	// with a listener on it; the guard refuses the address before connect.
	// Another name does not resolve at all.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	inside := func(_ context.Context, host string) ([]netip.Addr, error) {
		if strings.HasPrefix(host, "gone.") {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	wh := webhook.New(webhook.Options{Store: st, Logger: slog.New(slog.DiscardHandler), AllowHTTP: true, Poll: 10 * time.Millisecond,
		VerifySchedule: []time.Duration{}, Client: webhook.NewClient(webhook.ClientOptions{Resolver: inside})})
	s, err := New(Options{Site: config.Site{Title: "Acme Status", URL: "https://status.acme.test", TimeZone: "UTC", Location: time.UTC},
		SiteID: "acme", Store: st, Logger: slog.New(slog.DiscardHandler), Webhooks: wh,
		Admin: &Admin{Tokens: []AdminToken{{Name: "ops", Hash: store.HashToken(writeToken)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go wh.Run(ctx)

	for _, tc := range []struct{ host, fine, raw string }{
		{"hooks.inside.test", "refused_address", "127.0.0.1 is not a public address"},
		{"gone.inside.test", "dns_error", "no such host"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			ip := "198.51.100.30"
			if tc.fine == "dns_error" {
				ip = "198.51.100.32" // its own client: the per-client limit is not the test
			}
			code, created := call(t, h, "POST", "/api/v1/subscriptions", "", `{"url":"http://`+tc.host+`:`+strconv.Itoa(port)+`/h"}`, ip)
			if code != 201 {
				t.Fatalf("subscribe: %d %v", code, created)
			}
			id, owner := created["id"].(string), created["unsubscribe_token"].(string)
			path := "/api/v1/subscriptions/" + id
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, v := call(t, h, "GET", path, owner, "", ip)
				if v["state"] == "expired" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the challenge never failed: %v", v)
				}
				time.Sleep(10 * time.Millisecond) // polling a condition, bounded by the deadline
			}
			for _, p := range []string{path, path + "/deliveries"} {
				_, pub := send(t, h, "198.51.100.31", "GET", p, owner, "", "")
				if strings.Contains(pub, "127.0.0.1") || strings.Contains(pub, "public address") || strings.Contains(pub, "dial") || strings.Contains(pub, "no such host") {
					t.Errorf("GET %s (owner) shows the raw error: %s", p, pub)
				}
				if !strings.Contains(pub, `"reason":"unreachable_host"`) || strings.Contains(pub, tc.fine) {
					t.Errorf("GET %s (owner) does not give the one reason unreachable_host: %s", p, pub)
				}
				_, priv := send(t, h, "198.51.100.31", "GET", p, writeToken, "", "")
				if !strings.Contains(priv, tc.raw) || !strings.Contains(priv, `"reason":"`+tc.fine+`"`) {
					t.Errorf("GET %s (admin) lacks the raw error or the reason %s: %s", p, tc.fine, priv)
				}
			}
		})
	}
}
