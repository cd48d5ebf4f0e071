package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestEndToEndReload(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	bin := outpostBinary(t)
	tg := &target{addr: "127.0.0.1:0"}
	tg.start(t)
	defer tg.stop()
	listen := closedAddr(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	base := fmt.Sprintf(`
site: {title: Reload Status}
listen: %s
operators: {listen: %q}
storage: {path: data/r.db}
components:
  - {id: shop, name: Shop}
%%s
checks:
  - {name: shop-home, component: shop, kind: http, target: "http://%s/", interval: 1s}
%%s
`, listen, freeAddr(t), tg.addr)
	write := func(comps, checks string) {
		t.Helper()
		// Write a new file and rename it over the old one, as editors do.
		tmp := cfg + ".tmp"
		if err := os.WriteFile(tmp, []byte(fmt.Sprintf(base, comps, checks)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, cfg); err != nil {
			t.Fatal(err)
		}
	}
	write("", "")
	p := startOutpost(t, bin, cfg, listen)

	// Add a component and its check: it appears without a restart.
	write("  - {id: cart, name: Cart}", fmt.Sprintf(`  - {name: cart-api, component: cart, kind: tcp, target: "%s", interval: 1s}`, tg.addr))
	waitFor(t, 10*time.Second, "the new component on the page", func() bool {
		return strings.Contains(mustFetch(p.base, "/api/v1/status"), `"id": "cart"`) &&
			strings.Contains(mustFetch(p.ops, "/metrics"), `outpost_probe_runs_total{check="cart-api",outcome="up"}`)
	}, p)

	// An invalid file is rejected with the same messages as outpost check;
	// the last good config keeps running and the failure is visible.
	write("  - {id: cart, name: Cart, colour: blue}", "")
	waitFor(t, 10*time.Second, "the rejected reload in /api/v1/health", func() bool {
		h := mustFetch(p.ops, "/api/v1/health")
		return strings.Contains(h, `unknown field \"colour\"`) && strings.Contains(h, `"matches_file":false`)
	}, p)
	if !strings.Contains(p.log(), "config reload rejected") || !strings.Contains(p.log(), `unknown field \"colour\"`) {
		t.Errorf("the rejection is not logged:\n%s", p.log())
	}
	if m := mustFetch(p.ops, "/metrics"); !strings.Contains(m, `outpost_config_reloads_total{result="failure"}`) {
		t.Error("no reload failure metric")
	}
	if h := mustFetch(p.base, "/healthz"); !strings.Contains(h, `"ok"`) {
		t.Errorf("a failed reload failed liveness: %s", h)
	}
	if s := mustFetch(p.base, "/api/v1/status"); !strings.Contains(s, `"id": "cart"`) {
		t.Error("the last good config is no longer in force")
	}

	// Fixing the file recovers without a restart: the cart goes away.
	write("", "")
	waitFor(t, 10*time.Second, "the fixed config in force", func() bool {
		h := mustFetch(p.ops, "/api/v1/health")
		return !strings.Contains(h, "last_reload_error") && strings.Contains(h, `"matches_file":true`) &&
			!strings.Contains(mustFetch(p.base, "/api/v1/status"), `"id": "cart"`)
	}, p)

	// A change that needs a restart is refused with that reason.
	os.WriteFile(cfg+".tmp", []byte(fmt.Sprintf(base, "", "")+"deadman: {url: \"http://127.0.0.1:9/ping\"}\n"), 0o600)
	os.Rename(cfg+".tmp", cfg)
	waitFor(t, 10*time.Second, "the restart-needed rejection", func() bool {
		return strings.Contains(mustFetch(p.ops, "/api/v1/health"), "deadman changed: restart Outpost")
	}, p)
	write("", "")

	// SIGHUP reloads too.
	before := strings.Count(p.log(), "config reloaded")
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 5*time.Second, "a SIGHUP reload", func() bool {
		return strings.Count(p.log(), "config reloaded") > before && strings.Contains(p.log(), "trigger=SIGHUP")
	}, p)
}

// A FIFO or a huge file at the config path is refused with a clear error:
// reload does not wedge (a good file afterwards still reloads), health
// requests neither block nor leak goroutines, and nothing huge is read.
func TestConfigFileThatBlocksOrIsHuge(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	s := startShop(t, "Odd Files", "", "")
	good, err := os.ReadFile(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	swap := func(make func(tmp string) error) {
		t.Helper()
		tmp := s.cfg + ".tmp"
		os.Remove(tmp)
		if err := make(tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, s.cfg); err != nil {
			t.Fatal(err)
		}
		_ = s.p.cmd.Process.Signal(syscall.SIGHUP)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	health := func() string {
		t.Helper()
		r, err := client.Get(s.p.ops + "/api/v1/health")
		if err != nil {
			t.Fatalf("/api/v1/health: %v", err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return string(b)
	}
	goroutines := func() int {
		for _, l := range strings.Split(mustFetch(s.p.ops, "/metrics"), "\n") {
			if v, ok := strings.CutPrefix(l, "go_goroutines "); ok {
				n, _ := strconv.Atoi(v)
				return n
			}
		}
		t.Fatal("no go_goroutines")
		return 0
	}

	for _, tc := range []struct {
		name, want string
		make       func(string) error
	}{
		{"fifo", "is not a regular file", func(p string) error { return syscall.Mkfifo(p, 0o600) }},
		{"huge", "more than a config file may be", func(p string) error {
			return os.WriteFile(p, append(bytes.Clone(good), bytes.Repeat([]byte("# padding\n"), 500_000)...), 0o600)
		}},
	} {
		swap(tc.make)
		waitFor(t, 10*time.Second, tc.name+" refused", func() bool { return strings.Contains(health(), tc.want) }, s.p)
		before := goroutines()
		for range 20 {
			if h := health(); !strings.Contains(h, `"matches_file":false`) {
				t.Fatalf("%s: health does not say the file differs: %s", tc.name, h)
			}
		}
		if after := goroutines(); after > before+5 {
			t.Errorf("%s: goroutines %d → %d over 20 health requests", tc.name, before, after)
		}
		swap(func(p string) error { return os.WriteFile(p, good, 0o600) })
		waitFor(t, 10*time.Second, "a good file reloaded after "+tc.name, func() bool {
			h := health()
			return !strings.Contains(h, "last_reload_error") && strings.Contains(h, `"matches_file":true`)
		}, s.p)
	}
	fifo := filepath.Join(t.TempDir(), "fifo.yaml")
	syscall.Mkfifo(fifo, 0o600)
	out, err := exec.Command(s.bin, "check", "-config", fifo).CombinedOutput()
	if code := err.(*exec.ExitError).ExitCode(); code != 2 || !strings.Contains(string(out), "is not a regular file") {
		t.Errorf("outpost check on a FIFO: exit %d: %s", code, out)
	}
}
