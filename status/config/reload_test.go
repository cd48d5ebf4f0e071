package config

import (
	"reflect"
	"strings"
	"testing"
)

// Every top-level key of the config has a reload rule, and every rule a
// key: a new section must say whether a reload applies it.
func TestEveryKeyHasAReloadRule(t *testing.T) {
	rules := reloadRules()
	typ := reflect.TypeOf(Config{})
	keys := map[string]bool{}
	for i := range typ.NumField() {
		tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		keys[tag] = true
		if _, ok := rules[tag]; !ok {
			t.Errorf("config key %q has no reload rule (config/reload.go)", tag)
		}
	}
	for k := range rules {
		if !keys[k] {
			t.Errorf("reload rule for %q, which is no config key", k)
		}
	}
}

func TestRestartNeeded(t *testing.T) {
	load := func(extra string) *Config {
		t.Helper()
		c, err := Parse("r.yaml", []byte("site: {title: T}\ncomponents: [{id: a, name: A}]\n"+extra), LoadOptions{Lookup: func(string) (string, bool) { return "", false }})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	base := load("")
	for extra, want := range map[string]string{
		"storage: {raw_retention: 72h}\n":      "",
		"incidents: {reopen_window: 1m}\n":     "",
		"listen: 127.0.0.1:9999\n":             "listen, site changed", // the default site URL follows listen
		"storage: {path: other.db}\n":          "storage changed",
		"operators: {listen: off}\n":           "operators changed",
		"deadman: {url: \"http://x.test/\"}\n": "deadman changed",
	} {
		err := RestartNeeded(base, load(extra))
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", extra, err, want)
		}
	}
}
