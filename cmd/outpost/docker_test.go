package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/config"
)

// Images cannot be built on CI machines, so the Dockerfile's parts are
// proven instead: its exact build line produces a static binary that runs.
func TestDockerfileBuildLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	line := dockerfileBuildLine(t)
	out := filepath.Join(t.TempDir(), "out")
	cmdline := strings.ReplaceAll(strings.ReplaceAll(line, "${VERSION}", "9.9.9-test"), "/out/", out+"/")
	cmd := exec.Command("sh", "-c", cmdline)
	cmd.Dir = "../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, b)
	}
	bin := filepath.Join(out, "outpost")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary is dynamically linked (has PT_INTERP); scratch/distroless static needs CGO_ENABLED=0")
		}
	}
	v, err := exec.Command(bin, "version").Output()
	if err != nil || strings.TrimSpace(string(v)) != "outpost 9.9.9-test" {
		t.Fatalf("version = %q, %v", v, err)
	}
}

func dockerfileBuildLine(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if l, ok := strings.CutPrefix(sc.Text(), "RUN CGO_ENABLED=0 go build"); ok {
			return "CGO_ENABLED=0 go build" + l
		}
	}
	t.Fatal("Dockerfile has no 'RUN CGO_ENABLED=0 go build' line")
	return ""
}

func TestHealthcheckCommand(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   int
	}{{200, exitOK}, {503, exitFailed}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/healthz" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(tc.status)
			w.Write([]byte(`{"status":"x"}`))
		}))
		var out, errb bytes.Buffer
		code := run(t.Context(), []string{"healthcheck", "-url", srv.URL + "/healthz"}, &out, &errb)
		srv.Close()
		if code != tc.code {
			t.Errorf("/healthz %d: exit %d, want %d (%s)", tc.status, code, tc.code, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"healthcheck", "-url", "http://" + closedAddr(t) + "/healthz"}, &out, &errb); code != exitFailed {
		t.Errorf("nothing listening: exit %d", code)
	}
}

func TestDialable(t *testing.T) {
	for in, want := range map[string]string{":8080": "127.0.0.1:8080", "0.0.0.0:80": "127.0.0.1:80", "[::]:80": "[::1]:80", "10.0.0.1:80": "10.0.0.1:80"} {
		if got := dialable(in); got != want {
			t.Errorf("dialable(%q) = %q, want %q", in, got, want)
		}
	}
}

// The image runs the bundled config with OUTPOST_LISTEN and OUTPOST_DATA
// set; its HEALTHCHECK (outpost healthcheck -config ...) must then pass.
func TestImageDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	bin := outpostBinary(t)
	listen := closedAddr(t)
	env := append(os.Environ(), "OUTPOST_LISTEN="+listen, "OUTPOST_DATA="+filepath.Join(t.TempDir(), "outpost.db"))
	cmd := exec.Command(bin, "serve", "-config", "../../config.yaml")
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var out []byte
	var err error
	waitFor(t, 10*time.Second, "the HEALTHCHECK command to pass", func() bool {
		hc := exec.Command(bin, "healthcheck", "-config", "../../config.yaml")
		hc.Env = env
		out, err = hc.CombinedOutput()
		return err == nil
	}, nil)
	if !strings.Contains(string(out), `"ok"`) {
		t.Errorf("healthcheck output %q", out)
	}
}

// The bundled config's own-page check must not depend on site.title:
// renaming the site would make the page declare itself down.
func TestBundledPageCheckSurvivesARename(t *testing.T) {
	cfg, err := config.Load("../../config.yaml", config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := cfg.CheckByName("own-page")
	if !ok {
		t.Fatal("no own-page check")
	}
	want := c.Spec.Expect.BodyContains
	base, err := os.ReadFile("../../templates/base.html")
	if err != nil {
		t.Fatal(err)
	}
	if want == "" || strings.Contains(cfg.Site.Title, want) || strings.Contains(want, cfg.Site.Title) || !strings.Contains(string(base), want) {
		t.Fatalf("own-page looks for %q (title %q): it must be fixed page text, not the title", want, cfg.Site.Title)
	}
}
