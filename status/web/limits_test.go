package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
)

func from(t *testing.T, h http.Handler, method, path, token, addr string) int {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = addr
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// Failed authentications from an address are limited, but the on-call
// person's valid token from the same address is never refused, and an
// unknown /api/v1 path is a 404 that counts for nothing.
func TestValidTokenNeverRefusedByOthersFailures(t *testing.T) {
	s, _ := subscriptionServer(t, 5)
	h := s.Handler()
	const addr = "203.0.113.7:5000"
	for range 3 {
		if code := from(t, h, "GET", "/api/v1/no-such-thing", "", addr); code != http.StatusNotFound {
			t.Fatalf("an unknown /api/v1 path answered %d, want 404", code)
		}
	}
	codes := map[int]int{}
	for range 10 {
		codes[from(t, h, "GET", "/api/v1/incidents", "wrong-token", addr)]++
	}
	if codes[http.StatusUnauthorized] != 5 || codes[http.StatusTooManyRequests] != 5 {
		t.Fatalf("bad tokens: %v, want 5×401 then 5×429 (the unknown paths counted for nothing)", codes)
	}
	if code := from(t, h, "GET", "/api/v1/incidents", readToken, addr); code != http.StatusOK {
		t.Fatalf("the valid token answered %d after others' failures from its address", code)
	}
	if code := from(t, h, "GET", "/api/v1/subscriptions", writeToken, addr); code != http.StatusOK {
		t.Fatalf("the admin list answered %d", code)
	}
}

// Rotating addresses inside one IPv6 /64 does not escape the limit.
func TestIPv6RotationIsOneClient(t *testing.T) {
	s, _ := subscriptionServer(t, 5)
	h := s.Handler()
	limited := false
	for i := range 10 {
		addr := fmt.Sprintf("[2001:db8:1:2::%x]:5000", 0x1000+i*7919)
		if from(t, h, "GET", "/api/v1/incidents", "wrong", addr) == http.StatusTooManyRequests {
			limited = true
		}
	}
	if !limited {
		t.Fatal("ten failures from ten addresses of one /64 were never limited")
	}
	if code := from(t, h, "GET", "/api/v1/incidents", "wrong", "[2001:db8:1:3::1]:5000"); code != http.StatusUnauthorized {
		t.Fatalf("another /64 answered %d, want 401", code)
	}
}

// A full limiter forgets the least recently seen client, not everyone: an
// offender active all along stays limited while others come and go.
func TestLimiterEvictsLeastRecentlySeen(t *testing.T) {
	l := newAddrLimiter(time.Hour, 2)
	l.max = 3
	for range 2 {
		l.failed("198.51.100.1")
	}
	for i := range 10 {
		if !l.refused("198.51.100.1") {
			t.Fatalf("the offender was forgotten after %d other clients", i)
		}
		l.failed(fmt.Sprintf("192.0.2.%d", i))
	}
	if len(l.m) != 3 || l.order.Len() != 3 {
		t.Fatalf("the limiter holds %d/%d clients, want 3", len(l.m), l.order.Len())
	}
}

// Unknown heartbeat tokens from an address are limited; the real job's
// beat from the same address is still recorded.
func TestHeartbeatNeverRefusedByOthersFailures(t *testing.T) {
	snap, st := fixture(t)
	beats := probes.NewBeats(nil)
	token := "hb-real-token-0123456789"
	beats.SetTokens(map[string]string{"nightly": store.HashToken(token)})
	s, err := New(Options{Site: config.Site{Title: "Acme", URL: "https://acme.test", TimeZone: "UTC", Location: time.UTC}, SiteID: "acme",
		Store: st, Logger: slog.New(slog.DiscardHandler),
		Heartbeats: beats})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	const addr = "203.0.113.9:4000"
	for range 8 {
		from(t, h, "POST", "/api/v1/heartbeat/bogus-token", "", addr)
	}
	if code := from(t, h, "POST", "/api/v1/heartbeat/bogus-token", "", addr); code != http.StatusTooManyRequests {
		t.Fatalf("bogus tokens not limited: %d", code)
	}
	if code := from(t, h, "POST", "/api/v1/heartbeat/"+token, "", addr); code != http.StatusOK {
		t.Fatalf("the real beat answered %d after bogus ones from its address", code)
	}
}
