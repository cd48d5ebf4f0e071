package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
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

// An admin command whose outcome the cluster could not tell (its leader
// was lost holding it) is answered 504 with a JSON message saying to
// look before trying again, never "nothing changed" nor a bare 500.
func TestCommandOfUnknownOutcomeAnswers504(t *testing.T) {
	for _, cause := range []error{status.ErrOutcomeUnknown, status.ErrAnswerLost} {
		t.Run(cause.Error()[:20], func(t *testing.T) {
			snap, st := fixture(t)
			admin := &Admin{Tokens: []AdminToken{{Name: "ops", Hash: store.HashToken(writeToken)}},
				Do: func(context.Context, ...status.Command) ([]status.Reply, error) { return nil, cause }}
			s, err := New(Options{Site: config.Site{Title: "Acme Status", URL: "https://status.acme.test", TimeZone: "UTC", Location: time.UTC},
				SiteID: "acme", Store: st, Log: st, Logger: slog.New(slog.DiscardHandler), Admin: admin})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Update(snap); err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, "/api/v1/incidents", strings.NewReader(`{"name":"API down","message":"Looking into it"}`))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Accept", "application/json")
			r.Header.Set("Authorization", "Bearer "+writeToken)
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, r)
			var body struct {
				Error struct {
					Message string `json:"message"`
				} `json:"error"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != http.StatusGatewayTimeout || body.Error.Message != cause.Error() {
				t.Fatalf("answered %d %s, want 504 with %q", rec.Code, rec.Body, cause)
			}
		})
	}
}
