package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func closedAddr(t *testing.T) string {
	t.Helper()
	return closedAddrs(t, 1)[0]
}

// closedAddrs is n distinct free loopback addresses, for listeners a
// process opens later: the listeners stay open until all are drawn, since
// a port closed at once can be handed out again (two closedAddr calls
// once gave listen and operators.listen the same port, which config
// refuses).
func closedAddrs(t testing.TB, n int) []string {
	t.Helper()
	var out []string
	for range n {
		l := listenLow(t, "127.0.0.1")
		defer l.Close()
		out = append(out, l.Addr().String())
	}
	return out
}

// listenLow listens on host at a free port below Linux's ephemeral range
// (32768–60999), for an address a test closes and hands to a process (or
// binds again itself) later: a port the kernel handed out for ":0" is as
// likely to be handed out again, as another test's listener or as the
// source port of an outgoing connection, in the moment before it is bound
// again (as status/node's freePort; CI failed there once on
// TestHeartbeatTakenByAnyMember: "bind: address already in use"). Each
// package's tests draw from their own part of the range (cmd/outpost
// 20000–24999, status/cluster 25000–28999, status/node 29000–32767): the
// packages' test processes run side by side, and one's port, closed to be
// handed on, was another's to take (CI failed on status/node's
// TestEveryMemberPingsAndExportsItsOwn: "bind: address already in use").
func listenLow(t testing.TB, host string) net.Listener {
	t.Helper()
	for range 100 {
		if l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(20000+rand.IntN(5000)))); err == nil {
			return l
		}
	}
	t.Fatalf("no free port on %s below the ephemeral range in 100 tries", host)
	return nil
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

// The command line answers help and version as a user expects, suggests
// the command a typo meant, and asks for no token to show help.
func TestCommandLineManners(t *testing.T) {
	t.Setenv("OUTPOST_ADMIN_TOKEN", "")
	for _, tc := range []struct {
		args       []string
		code       int
		out, err   string
		errLacking string
	}{
		{[]string{"--help"}, exitOK, "Commands:", "", ""},
		{[]string{"-h"}, exitOK, "Commands:", "", ""},
		{[]string{"help"}, exitOK, "Commands:", "", ""},
		{[]string{"--version"}, exitOK, "outpost dev", "", ""},
		{[]string{"serv"}, exitConfig, "", `did you mean "serve"?`, "Commands:"},
		{[]string{"maintenanse"}, exitConfig, "", `did you mean "maintenance"?`, "Commands:"},
		{[]string{"xyzzy"}, exitConfig, "", `unknown command "xyzzy"`, "did you mean"},
		{[]string{"incident", "--help"}, exitOK, "usage: outpost incident", "", "OUTPOST_ADMIN_TOKEN"},
		{[]string{"incident", "create", "-h"}, exitOK, "", "-name", "OUTPOST_ADMIN_TOKEN"},
		{[]string{"maintenance", "help"}, exitOK, "usage: outpost maintenance", "", ""},
		{[]string{"check", "-h"}, exitOK, "", "-config", ""},
	} {
		var out, errb bytes.Buffer
		code := run(t.Context(), tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(out.String(), tc.out) || !strings.Contains(errb.String(), tc.err) ||
			(tc.errLacking != "" && strings.Contains(errb.String(), tc.errLacking)) {
			t.Errorf("%v: exit %d\nstdout: %s\nstderr: %s", tc.args, code, out.String(), errb.String())
		}
	}
}

func TestMaintenanceStart(t *testing.T) {
	now := time.Date(2026, 11, 26, 14, 0, 30, 500, time.UTC)
	for in, want := range map[string]string{"now": "2026-11-26T14:00:30Z", "+2h": "2026-11-26T16:00:30Z", "+30m": "2026-11-26T14:30:30Z",
		"2026-12-01T02:00:00Z": "2026-12-01T02:00:00Z"} {
		got, err := parseStart(in, now)
		if err != nil || got.Format(time.RFC3339) != want {
			t.Errorf("parseStart(%q) = %s, %v; want %s", in, got.Format(time.RFC3339), err, want)
		}
	}
	for _, bad := range []string{"", "tomorrow", "+2 hours", "+-1h"} {
		if _, err := parseStart(bad, now); err == nil || !strings.Contains(err.Error(), `"now"`) {
			t.Errorf("parseStart(%q): %v, want an error naming the forms", bad, err)
		}
	}
	t.Setenv("OUTPOST_ADMIN_TOKEN", "t0ken")
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"maintenance", "add", "-name", "x", "-components", "api"}, &out, &errb); code != exitConfig ||
		!strings.Contains(errb.String(), "-start is required") || strings.Contains(errb.String(), "2006-01-02") {
		t.Errorf("add without -start: exit %d: %s", code, errb.String())
	}
}

// Commands that do not use a secret run without it; check reports it.
func TestCommandsNeedOnlyTheirSecrets(t *testing.T) {
	cfg := writeConfig(t, fmt.Sprintf(`
site: {title: T}
admin: {tokens: [{name: oncall, token: "${UNSET_ADMIN_TOKEN_9}"}]}
channels:
  - {name: ops, kind: slack, url: "${UNSET_SLACK_URL_9}"}
components: [{id: db, name: DB}]
checks:
  - {name: db-port, component: db, kind: tcp, target: "%s", timeout: 2s}
`, closedAddr(t)))
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"check", "-config", cfg}, &out, &errb); code != exitConfig || !strings.Contains(errb.String(), "UNSET_SLACK_URL_9") ||
		!strings.Contains(errb.String(), "UNSET_ADMIN_TOKEN_9") {
		t.Errorf("check: exit %d: %s", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run(t.Context(), []string{"probe", "-config", cfg}, &out, &errb); code != exitFailed || !strings.Contains(out.String(), "db-port") {
		t.Errorf("probe (a down check, no channel secrets needed): exit %d: %s %s", code, out.String(), errb.String())
	}
	errb.Reset()
	backup := filepath.Join(t.TempDir(), "b.db")
	if code := run(t.Context(), []string{"backup", "-config", cfg, "-out", backup}, &out, &errb); code != exitOK {
		t.Errorf("backup: exit %d: %s", code, errb.String())
	}
	// probe still needs its checks' own secrets.
	cfg2 := writeConfig(t, "site: {title: T}\ncomponents: [{id: db, name: DB}]\nchecks:\n  - {name: db-port, component: db, kind: tcp, target: \"${UNSET_TARGET_9}\"}\n")
	errb.Reset()
	if code := run(t.Context(), []string{"probe", "-config", cfg2}, &out, &errb); code != exitConfig || !strings.Contains(errb.String(), "UNSET_TARGET_9") {
		t.Errorf("probe with a check's secret unset: exit %d: %s", code, errb.String())
	}
}
