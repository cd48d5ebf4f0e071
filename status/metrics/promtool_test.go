package metrics

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// promtool (Debian's prometheus package, installed by .ci/run) checks the
// exposition exactly as Prometheus would scrape it.
func TestPromtoolCheckMetrics(t *testing.T) {
	if _, err := exec.LookPath("promtool"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool missing in CI: .ci/run must install the prometheus package")
		}
		t.Skip("promtool not installed (apt-get install prometheus)")
	}
	rec := httptest.NewRecorder()
	// What /metrics serves: Handler writes the per-check and per-component
	// families itself, beside what the registry gathers.
	populated().Handler(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(rec.Body.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	if !strings.Contains(rec.Body.String(), "outpost_probe_runs_total{") {
		t.Fatal("the exposition lacks outpost metrics")
	}
}
