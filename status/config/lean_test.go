package config

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"go.yaml.in/yaml/v3"
)

// Reading a config decoded every struct's keys afresh: at 5,000 checks a
// map of reflect values per check, 77 MiB allocated for a file of half a
// megabyte, the start's peak RSS. The keys are worked out once per type.
func TestParseAllocatesAboutTheFile(t *testing.T) {
	var cfg strings.Builder
	cfg.WriteString("site: {title: Scale}\nlisten: 127.0.0.1:8080\ncomponents:\n")
	for i := range 50 {
		fmt.Fprintf(&cfg, "  - {id: c%d, name: Component %d, group: Group %d}\n", i, i, i/10)
	}
	cfg.WriteString("checks:\n")
	for i := range 5000 {
		fmt.Fprintf(&cfg, "  - {name: check-%05d, component: c%d, kind: http, target: \"http://127.0.0.1:9/\", interval: 30s, timeout: 5s}\n", i, i%50)
	}
	data := []byte(cfg.String())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got, err := Parse("config.yaml", data, LoadOptions{})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	allocated := float64(after.TotalAlloc-before.TotalAlloc) / (1 << 20)
	t.Logf("parsing 5,000 checks (%d bytes) allocates %.1f MiB", len(data), allocated)
	if !raceOn && allocated > 40 {
		t.Errorf("parsing 5,000 checks allocates %.1f MiB (limit 40)", allocated)
	}
	if len(got.Checks) != 5000 || got.Checks[4999].Name != "check-04999" || got.Checks[4999].Target != "http://127.0.0.1:9/" || got.Checks[7].Component != "c7" {
		t.Errorf("checks decoded wrong: %d, last %+v", len(got.Checks), got.Checks[len(got.Checks)-1])
	}
}

// Equal string values share one copy: thousands of checks repeat their
// kind, component and target, and the parser makes a string of each
// (0.3 MB held at 5,000 checks).
func TestParseSharesRepeatedStrings(t *testing.T) {
	var cfg strings.Builder
	cfg.WriteString("site: {title: Scale}\nlisten: 127.0.0.1:8080\ncomponents:\n  - {id: api, name: API}\nchecks:\n")
	for i := range 3 {
		fmt.Fprintf(&cfg, "  - {name: check-%d, component: api, kind: http, target: \"http://127.0.0.1:9/\", interval: 30s}\n", i)
	}
	got, err := Parse("config.yaml", []byte(cfg.String()), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := got.Checks[0], got.Checks[2]
	for _, f := range []struct{ name, x, y string }{{"kind", a.Kind, b.Kind}, {"component", a.Component, b.Component}, {"target", a.Target, b.Target}} {
		if f.x != f.y || unsafe.StringData(f.x) != unsafe.StringData(f.y) {
			t.Errorf("the %s %q of two checks is held twice", f.name, f.x)
		}
	}
	if a.Name == b.Name {
		t.Errorf("names %q and %q", a.Name, b.Name)
	}
}

// Where each field was written is found from its list or mapping: a
// record for every value was 35,000 paths and map entries at 5,000
// checks, held with the parsed tree through validation, the start's peak.
// A problem still names the value's line and column.
func TestDecodeRecordsListsAndMappingsOnly(t *testing.T) {
	var cfg strings.Builder
	cfg.WriteString("site: {title: Scale}\nlisten: 127.0.0.1:8080\ncomponents:\n  - {id: api, name: API}\nchecks:\n")
	for i := range 5000 {
		fmt.Fprintf(&cfg, "  - {name: check-%04d, component: api, kind: http, target: \"http://127.0.0.1:9/\", interval: 30s, expect: {status: 200}}\n", i)
	}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(cfg.String()), &root); err != nil {
		t.Fatal(err)
	}
	d := &decoder{file: "config.yaml", pos: map[string]*yaml.Node{}}
	d.decode(root.Content[0], reflect.ValueOf(&Config{}).Elem(), "")
	if len(d.pos) > 10100 {
		t.Errorf("decoding 5,000 checks recorded %d places", len(d.pos))
	}
	for path, want := range map[string][2]int{"checks[4321].target": {4327, 60}, "checks[7].expect.status[0]": {13, 115},
		"checks[9].expect": {15, 106}, "checks[9].timeout": {15, 5}, "listen": {2, 9}, "site.url": {1, 7}, "nowhere.at.all": {0, 0}} {
		n := d.at(path)
		if got := [2]int{}; n != nil {
			got = [2]int{n.Line, n.Column}
			if got != want {
				t.Errorf("%s at %d:%d, want %d:%d", path, got[0], got[1], want[0], want[1])
			}
		} else if want != [2]int{} {
			t.Errorf("%s found nowhere, want %d:%d", path, want[0], want[1])
		}
	}
}

// Reading a config held its YAML tree (10.5 MB at 5,000 checks) and the
// record of where each list and mapping is until validation ended, beside
// the checks decoded from it and their probes: the start's peak RSS. The
// tree's list items are let go of as they are decoded; a problem is placed
// by reading the file again.
func TestParseLetsGoOfTheTreeAsItDecodes(t *testing.T) {
	var cfg strings.Builder
	cfg.WriteString("site: {title: Scale}\nlisten: 127.0.0.1:8080\ncomponents:\n  - {id: api, name: API}\nchecks:\n")
	for i := range 5000 {
		target := "http://127.0.0.1:9/"
		if i == 4321 {
			target = "ftp://127.0.0.1:9/"
		}
		fmt.Fprintf(&cfg, "  - {name: check-%04d, component: api, kind: http, target: %q, interval: 30s, timeout: 5s}\n", i, target)
	}
	cfg.WriteString("cluster:\n  nodes: []\n")
	var before runtime.MemStats
	held := -1.0
	// The node's id is looked up once the file is decoded, before
	// validation (Parse): what is live then is what validation runs beside.
	lookup := func(k string) (string, bool) {
		if k == NodeEnv {
			var m runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m)
			held = float64(int64(m.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)
		}
		return "", false
	}
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Parse("config.yaml", []byte(cfg.String()), LoadOptions{Lookup: lookup})
	t.Logf("decoded 5,000 checks, %.1f MiB held", held)
	if held < 0 || held > 7 {
		t.Errorf("decoded 5,000 checks, %.1f MiB held into validation (limit 7)", held)
	}
	var es Errors
	if !errors.As(err, &es) || len(es) != 5 {
		t.Fatalf("want five problems, got %v", err)
	}
	for i, want := range map[int]string{0: `config.yaml:4327:60: checks[4321].target: must be an http:// or https:// URL, got "ftp://127.0.0.1:9/"`,
		1: "config.yaml:5007:3: cluster.tls.ca_file: is required", 4: "config.yaml:5007:10: cluster.nodes: at least one node is required"} {
		if !strings.HasPrefix(es[i].Error(), want) {
			t.Errorf("problem %d is %q, want it to start %q", i, es[i], want)
		}
	}
}

// A check's expectations are a pointer, nil when it sets none, as most
// do: inline they were 208 of each config.Check's 736 bytes, 1 MB of a
// config of 5,000 HTTP checks, held for the process's life.
func TestConfigHoldsNoExpectationsUnset(t *testing.T) {
	var cfg strings.Builder
	cfg.WriteString("site: {title: Scale}\nlisten: 127.0.0.1:8080\ncomponents:\n  - {id: api, name: API}\nchecks:\n")
	for i := range 5000 {
		fmt.Fprintf(&cfg, "  - {name: check-%04d, component: api, kind: http, target: \"http://127.0.0.1:9/\", interval: 30s}\n", i)
	}
	cfg.WriteString("  - {name: body, component: api, kind: http, target: \"http://127.0.0.1:9/\", expect: {status: 204, body_contains: ok}}\n")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got, err := Parse("config.yaml", []byte(cfg.String()), LoadOptions{})
	runtime.GC()
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	held := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)
	t.Logf("a config of 5,000 HTTP checks holds %.2f MiB (a check %d bytes)", held, unsafe.Sizeof(Check{}))
	if !raceOn && held > 3.8 {
		t.Errorf("a config of 5,000 HTTP checks holds %.2f MiB (limit 3.8)", held)
	}
	if e := got.Checks[0].Expect; e != nil {
		t.Errorf("a check that sets no expect holds %+v", e)
	}
	if e := got.Checks[5000].Expect; e == nil || len(e.Status) != 1 || e.Status[0] != "204" || e.BodyContains != "ok" {
		t.Errorf("expect: %+v", e)
	}
	runtime.KeepAlive(got)
}

// A list written once with an anchor and used again by alias is read
// twice: letting go of its items as they are decoded left the alias nil
// nodes, and a valid file panicked (a depends_on list, a status list).
func TestParseReadsAnAliasedListTwice(t *testing.T) {
	cfg := `site: {title: T}
listen: 127.0.0.1:8080
components:
  - {id: db, name: DB}
  - {id: api, name: API, depends_on: &deps [db]}
  - {id: web, name: Web, depends_on: *deps}
checks:
  - {name: a, component: api, kind: http, target: "http://127.0.0.1:9/", interval: 30s, expect: {status: &ok [200, 204]}}
  - {name: b, component: web, kind: http, target: "http://127.0.0.1:9/", interval: 30s, expect: {status: *ok}}
`
	got, err := Parse("config.yaml", []byte(cfg), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if deps := got.Components[2].DependsOn; len(deps) != 1 || deps[0] != "db" {
		t.Errorf("web depends on %v, want [db] (by alias)", deps)
	}
	if e := got.Checks[1].Expect; e == nil || len(e.Status) != 2 {
		t.Errorf("check b expects %+v, want the two statuses of check a (by alias)", e)
	}
}
