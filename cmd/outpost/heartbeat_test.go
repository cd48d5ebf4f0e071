package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestHeartbeatChecks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	bin := outpostBinary(t)
	listen, ops := closedAddr(t), opsLine(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
site: {title: Jobs}
listen: %s
%s
components: [{id: backups, name: Backups}]
checks:
  - {name: nightly-backup, component: backups, kind: heartbeat, period: 2s, grace: 1s, interval: 1s}
`, listen, ops)), 0o600)
	p := startOutpost(t, bin, cfg, listen)
	out, err := exec.Command(bin, "heartbeat", "token", "-config", cfg, "-check", "nightly-backup").CombinedOutput()
	if err != nil {
		t.Fatalf("heartbeat token: %v\n%s", err, out)
	}
	token := ""
	lines := strings.Fields(string(out))
	for i, w := range lines {
		if w == "kept):" && i+1 < len(lines) { // the token follows "(shown once; only its hash is kept):"
			token = lines[i+1]
		}
	}
	if len(token) < 22 { // 128 bits, base64url
		t.Fatalf("token %q from\n%s", token, out)
	}
	ping := func(path, method string) int {
		req, _ := http.NewRequest(method, p.base+"/api/v1/heartbeat/"+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// The job pings: up. (GET works too, for crontabs.)
	if code := ping(token, "POST"); code != 200 {
		t.Fatalf("ping: %d", code)
	}
	waitFor(t, 5*time.Second, "the job seen up", func() bool {
		return strings.Contains(mustFetch(p.base, "/api/v1/status"), `"status": "operational"`) &&
			strings.Contains(mustFetch(p.ops, "/metrics"), `outpost_probe_runs_total{check="nightly-backup",outcome="up"}`)
	}, p)
	// It stops: after period + grace, down, with an incident.
	waitFor(t, 10*time.Second, "a missed heartbeat", func() bool {
		return strings.Contains(mustFetch(p.base, "/api/v1/status"), `"name": "Backups is unavailable"`)
	}, p)
	// It reports back: recovered; then it reports a failure: down again.
	if code := ping(token, "GET"); code != 200 {
		t.Fatalf("GET ping: %d", code)
	}
	waitFor(t, 5*time.Second, "recovery after a ping", func() bool {
		return strings.Contains(mustFetch(p.base, "/api/v1/status"), `"incidents": []`)
	}, p)
	if code := ping(token+"/fail", "POST"); code != 200 {
		t.Fatalf("fail: %d", code)
	}
	waitFor(t, 5*time.Second, "the reported failure", func() bool {
		return strings.Contains(mustFetch(p.base, "/api/v1/status"), `"name": "Backups is unavailable"`)
	}, p)
	// A reload that removes the check retires its token: 404, not a beat
	// recorded for a check that is gone.
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
site: {title: Jobs}
listen: %s
%s
components: [{id: backups, name: Backups}]
checks:
  - {name: weekly-report, component: backups, kind: heartbeat, period: 2s, grace: 1s, interval: 1s}
`, listen, ops)), 0o600)
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 5*time.Second, "the reload without nightly-backup", func() bool {
		return strings.Contains(mustFetch(p.ops, "/metrics"), `outpost_config_reloads_total{result="success"} 1`)
	}, p)
	if code := ping(token, "POST"); code != 404 {
		t.Fatalf("the removed check's token answered %d, want 404", code)
	}
	// Wrong tokens: 404, then rate limited.
	codes := []int{}
	for range 7 {
		codes = append(codes, ping("not-a-real-token-0000000", "POST"))
	}
	if codes[0] != 404 || codes[6] != 429 {
		t.Errorf("wrong tokens: %v", codes)
	}
}
