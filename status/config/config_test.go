package config

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Each testdata/invalid-*.yaml breaks one rule; its leading "# want:" lines
// are the exact messages Load must report, in order.
func TestInvalidConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid-*.yaml")
	if len(files) < 15 {
		t.Fatalf("only %d invalid fixtures", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want := wants(t, f)
			_, err := Load(f, LoadOptions{Lookup: func(string) (string, bool) { return "", false }})
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("Load = %v, want config Errors", err)
			}
			if got := strings.Split(es.Error(), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("messages:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
			}
		})
	}
}

func wants(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w, ok := strings.CutPrefix(sc.Text(), "# want: ")
		if !ok {
			break
		}
		out = append(out, w)
	}
	if len(out) == 0 {
		t.Fatalf("%s has no # want: line", path)
	}
	return out
}

func TestBundledConfig(t *testing.T) {
	cfg, err := Load("../../config.yaml", LoadOptions{})
	if err != nil {
		t.Fatalf("the bundled config.yaml does not load: %v", err)
	}
	if len(cfg.Checks) == 0 || len(cfg.Components) == 0 {
		t.Fatal("the bundled config has no checks or components")
	}
	for _, c := range cfg.Checks {
		if strings.Contains(c.Target, "example.com") {
			t.Errorf("check %s needs the internet: %s", c.Name, c.Target)
		}
	}
	abs, _ := filepath.Abs("../../data/outpost.db")
	if cfg.Storage.Path != abs {
		t.Errorf("storage.path %s, want it relative to the config file: %s", cfg.Storage.Path, abs)
	}
}

func TestDefaultsAndExpansion(t *testing.T) {
	env := map[string]string{"API_HOST": "127.0.0.1", "API_PORT": "8443", "THRESH": "5"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	src := `
site: {title: "Acme Cloud Status"}
components:
  - {id: api, name: API, group: Platform Services}
checks:
  - name: api
    component: api
    kind: tcp
    target: ${API_HOST}:${API_PORT}
    failure_threshold: ${THRESH}
  - name: web
    component: api
    kind: http
    target: http://${WEB_HOST:-localhost}/
    schedule: "*/5 * * * *"
    expect: {status: 200}
`
	cfg, err := Parse(filepath.Join(t.TempDir(), "c.yaml"), []byte(src), LoadOptions{Lookup: lookup})
	if err != nil {
		t.Fatal(err)
	}
	api, web := cfg.Checks[0], cfg.Checks[1]
	if api.Target != "127.0.0.1:8443" || api.FailureThreshold != 5 {
		t.Errorf("expansion: target %q threshold %d", api.Target, api.FailureThreshold)
	}
	if web.Target != "http://localhost/" {
		t.Errorf("default expansion: %q", web.Target)
	}
	if web.Every != 5*time.Minute || web.Timeout != DefaultTimeout {
		t.Errorf("cron check every %v timeout %v", web.Every, web.Timeout)
	}
	if api.Interval != DefaultInterval || api.SuccessThreshold != DefaultSuccessThreshold || api.RecheckInterval != DefaultRecheckInterval {
		t.Errorf("defaults not applied: %+v", api)
	}
	if cfg.Site.ID != "acme-cloud-status" || cfg.Listen != DefaultListen || cfg.Storage.RawRetention != DefaultRawRetention {
		t.Errorf("site defaults: id %q listen %q retention %v", cfg.Site.ID, cfg.Listen, cfg.Storage.RawRetention)
	}
	if len(web.Expect.Status) != 1 || web.Expect.Status[0] != "200" {
		t.Errorf("a scalar status is a one-item list: %v", web.Expect.Status)
	}
	if api.Probe == nil || web.Probe == nil {
		t.Error("probes not built")
	}
	if cfg.Hash == "" {
		t.Error("no hash")
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{"Platform Services": "platform-services", "  API / v2 ": "api-v2", "Ünïcode": "n-code"} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}
