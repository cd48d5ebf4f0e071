package node

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/outpost-status/outpost/status/store"
)

// With email on, /api/v1/health and /metrics count email subscribers by
// state beside webhooks, and never name an address.
func TestHealthAndMetricsCountEmailSubscribers(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer target.Close()
	_, smtpCfg := serveMailbox(t)
	path, cfg, beats := emailConfig(t, t.TempDir(), fmt.Sprintf("127.0.0.1:%d", smtpCfg.Port), target.URL)
	subscribeConfirmed(t, cfg.Storage.Path, map[string][]string{"ann": nil, "bob": nil, "unconfirmed-cy": nil})
	n, err := New(Options{ConfigPath: path, Config: cfg, Beats: beats, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	h := n.healthDetails()
	if h.Email == nil {
		t.Fatal("health details: no email part with email on")
	}
	if got := h.Email.Subscriptions; got[store.SubActive] != 2 || got[store.SubPending] != 1 {
		t.Errorf("health email subscriptions: %v, want 2 active, 1 pending", got)
	}
	body, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(n.met.Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	scrape := rec.Body.String()
	for _, want := range []string{`outpost_subscribers{kind="email",state="active"} 2`, `outpost_subscribers{kind="email",state="pending"} 1`} {
		if !strings.Contains(scrape, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for name, s := range map[string]string{"health": string(body), "metrics": scrape} {
		if strings.Contains(s, "@example.com") {
			t.Errorf("%s names a subscriber's address", name)
		}
	}
}
