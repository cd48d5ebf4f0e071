package node

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/config"
)

// A store halted by a log entry it cannot decode makes the node unhealthy:
// /healthz answers 503 (the bare verdict in public, the reason on the
// operators' listener) and /api/v1/health says why.
func TestHaltedStoreMakesTheNodeUnhealthy(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`
site: {title: Node Test}
listen: %s
storage: {path: %s}
components: [{id: shop, name: Shop}]
`, freePort(t), filepath.Join(dir, "outpost.db"))), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(Options{ConfigPath: path, Config: cfg, Beats: probes.NewBeats(nil), Logger: slog.New(slog.DiscardHandler), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	get := func(h http.Handler, target string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %v (%q)", target, err, rec.Body)
		}
		return rec.Code, body
	}
	pub, ops := n.srv.Handler(), n.srv.OperatorsHandler()
	if code, body := get(pub, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz before the halt: %d %v", code, body)
	}
	if _, err := n.mach.ApplyEncoded([]byte("\x02{\"at\":\"2026-03-10T13:59:00Z\",\"frobnicate\":{}}"), 7, 0); err == nil {
		t.Fatal("an unknown part was applied")
	}
	const reason = `applying entries halted at log index 7: entry: unknown field "frobnicate"`
	if code, body := get(pub, "/healthz"); code != http.StatusServiceUnavailable || body["status"] != "unhealthy" || body["reason"] != nil {
		t.Errorf("public /healthz: %d %v, want 503, unhealthy, no reason", code, body)
	}
	if code, body := get(ops, "/healthz"); code != http.StatusServiceUnavailable || body["reason"] != reason {
		t.Errorf("operators' /healthz: %d %v, want 503 with %s", code, body, reason)
	}
	if code, body := get(ops, "/api/v1/health"); code != http.StatusOK || body["status"] != "unhealthy" || !strings.Contains(fmt.Sprint(body["reason"]), reason) {
		t.Errorf("/api/v1/health: %d %v, want unhealthy with %s", code, body, reason)
	}
}
