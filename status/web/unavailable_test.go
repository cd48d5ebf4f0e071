package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/webhook"
)

// noLeaderLog is a cluster's log during an election: it takes no entry.
type noLeaderLog struct{}

func (noLeaderLog) Apply(store.Entry) (store.Result, error) {
	return store.Result{}, fmt.Errorf("the cluster has no leader: %w", store.ErrLogUnavailable)
}

// A write that reaches a cluster without a leader answers 503 with a JSON
// reason and a Retry-After, never a 500 "something went wrong".
func TestWriteDuringAnElectionAnswers503(t *testing.T) {
	snap, st := fixture(t)
	wh := webhook.New(webhook.Options{Store: st, Log: noLeaderLog{}, Logger: slog.New(slog.DiscardHandler), PerClient: 5,
		Components: func(id string) bool { return id == "api" }})
	s, err := New(Options{Site: config.Site{Title: "Acme Status", URL: "https://status.acme.test", TimeZone: "UTC", Location: time.UTC},
		SiteID: "acme", Store: st, Log: noLeaderLog{}, Logger: slog.New(slog.DiscardHandler), Webhooks: wh})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	req := func() *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "/api/v1/subscriptions", strings.NewReader(`{"url":"https://hooks.example.com/a"}`))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = "203.0.113.50:40000"
		return r
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req())
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
		!strings.Contains(rec.Body.String(), "choosing a leader") {
		t.Fatalf("a subscription during an election: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
}
