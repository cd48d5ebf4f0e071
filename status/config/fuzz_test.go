package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: no file makes the loader panic, and every rejection is a
// list of errors that each name a field.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	files = append(files, "../../config.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("checks: [{name: a, kind: http, interval: 1s}]\nchecks: 3"))
	f.Add([]byte("site: &a {title: x}\ncomponents: [*a]"))
	f.Add([]byte("components:\n  - {id: a, name: A, depends_on: &d [b]}\n  - {id: c, name: C, depends_on: *d}"))
	lookup := func(k string) (string, bool) { return "value-of-" + k, true }
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse("fuzz.yaml", data, LoadOptions{Lookup: lookup})
		if err == nil {
			return
		}
		es, ok := err.(Errors)
		if !ok || len(es) == 0 {
			t.Fatalf("not config Errors: %T %v", err, err)
		}
		for _, e := range es {
			if e.Field == "" || strings.TrimSpace(e.Msg) == "" {
				t.Fatalf("an error without field or message: %+v", e)
			}
		}
	})
}
