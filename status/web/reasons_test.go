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
// oracle. Admins see the raw text too.
func TestSubscriptionFailuresArePublicReasons(t *testing.T) {
	snap, st := fixture(t)
	// A name that resolves, inside Outpost's network, to a loopback address
	// with a listener on it; the guard refuses the address before connect.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	inside := func(context.Context, string) ([]netip.Addr, error) {
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

	code, created := call(t, h, "POST", "/api/v1/subscriptions", "", `{"url":"http://hooks.inside.test:`+strconv.Itoa(port)+`/h"}`, "198.51.100.30")
	if code != 201 {
		t.Fatalf("subscribe: %d %v", code, created)
	}
	id, owner := created["id"].(string), created["unsubscribe_token"].(string)
	path := "/api/v1/subscriptions/" + id
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, v := call(t, h, "GET", path, owner, "", "198.51.100.30")
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
		if strings.Contains(pub, "127.0.0.1") || strings.Contains(pub, "public address") || strings.Contains(pub, "dial") {
			t.Errorf("GET %s (owner) shows the raw error: %s", p, pub)
		}
		if !strings.Contains(pub, `"reason":"refused_address"`) {
			t.Errorf("GET %s (owner) does not give the reason refused_address: %s", p, pub)
		}
		_, priv := send(t, h, "198.51.100.31", "GET", p, writeToken, "", "")
		if !strings.Contains(priv, "127.0.0.1 is not a public address") || !strings.Contains(priv, `"reason":"refused_address"`) {
			t.Errorf("GET %s (admin) lacks the raw error or the reason: %s", p, priv)
		}
	}
}
