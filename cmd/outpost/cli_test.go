package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"check", "-config", "../../config.yaml"}, &out, &errb); code != exitOK {
		t.Fatalf("bundled config: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "OK (3 components, 3 checks") {
		t.Errorf("output %q", out.String())
	}
	out.Reset()
	errb.Reset()
	bad := "../../status/config/testdata/invalid-many.yaml"
	if code := run(t.Context(), []string{"check", "--config", bad}, &out, &errb); code != exitConfig {
		t.Fatalf("bad config: exit %d", code)
	}
	for _, want := range []string{"3 problem(s)", `invalid-many.yaml:4:24: site.titel: unknown field "titel"`, "invalid-many.yaml:11:5: checks[0].colour"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}

func TestProbeCommand(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	cfg := writeConfig(t, fmt.Sprintf(`
site: {title: T}
components: [{id: web, name: Web}, {id: db, name: DB}]
checks:
  - {name: web-home, component: web, kind: http, target: "%s/", expect: {body_contains: ok}}
  - {name: db-port, component: db, kind: tcp, target: "%s", timeout: 2s}
`, srv.URL, closedAddr(t)))

	var out, errb bytes.Buffer
	code := run(t.Context(), []string{"probe", "-config", cfg, "-json"}, &out, &errb)
	if code != exitFailed {
		t.Fatalf("one check down: exit %d, want %d (%s)", code, exitFailed, errb.String())
	}
	var rows []map[string]any
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatalf("-json output is not JSON: %v\n%s", err, out.String())
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	want := []map[string]any{
		{"name": "web-home", "component": "web", "kind": "http", "outcome": "up", "reason": "ok"},
		{"name": "db-port", "component": "db", "kind": "tcp", "outcome": "down", "reason": "connection_refused"},
	}
	for i, w := range want {
		for k, v := range w {
			if rows[i][k] != v {
				t.Errorf("row %d %s = %v, want %v", i, k, rows[i][k], v)
			}
		}
		if _, ok := rows[i]["latency_ms"].(float64); !ok {
			t.Errorf("row %d: latency_ms missing", i)
		}
		if _, ok := rows[i]["details"].(map[string]any); !ok {
			t.Errorf("row %d: details missing", i)
		}
	}

	out.Reset()
	if code := run(t.Context(), []string{"probe", "-config", cfg, "-check", "web-home"}, &out, &errb); code != exitOK {
		t.Fatalf("-check web-home: exit %d", code)
	}
	if !strings.Contains(out.String(), "web-home") || strings.Contains(out.String(), "db-port") || !strings.Contains(out.String(), "OUTCOME") {
		t.Errorf("table output:\n%s", out.String())
	}
	if code := run(t.Context(), []string{"probe", "-config", cfg, "-check", "nope"}, &out, &errb); code != exitConfig {
		t.Errorf("unknown check: exit %d", code)
	}
	if code := run(t.Context(), []string{"probe", "-config", "../../status/config/testdata/invalid-cron.yaml"}, &out, &errb); code != exitConfig {
		t.Errorf("bad config: exit %d", code)
	}
}

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"frobnicate"}, &out, &errb); code != exitConfig || !strings.Contains(errb.String(), `unknown command "frobnicate"`) {
		t.Errorf("exit %d, %s", code, errb.String())
	}
	if code := run(t.Context(), []string{"check", "-config", "x.yaml", "extra"}, &out, &errb); code != exitConfig {
		t.Errorf("stray argument accepted: exit %d", code)
	}
}
