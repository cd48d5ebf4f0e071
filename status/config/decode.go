package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder maps a yaml.Node tree onto Go structs strictly, recording every
// problem instead of stopping at the first, and remembering where each field
// was written so later validation can point at it.
type decoder struct {
	file string
	errs Errors
	// pos is field path → the value node, for lists and mappings; nil
	// when decoding records no places (and lets go of lists' items).
	pos map[string]*yaml.Node
	// aliased: the file uses an alias (expand met one), so a node may be
	// decoded twice and lists keep their items.
	aliased bool
	// tolerate and unresolved: see LoadOptions.Tolerate.
	tolerate   func(field string) bool
	unresolved Errors
	// types are the struct types' keys met so far (fields).
	types map[reflect.Type]map[string][]int
	// strings are the string values met so far (intern).
	strings map[string]string
}

// intern is s, or the equal string an earlier value kept: thousands of
// checks repeat their kind, component, interval and often their target,
// each a string of its own as the YAML parser reads it.
func (d *decoder) intern(s string) string {
	if kept, ok := d.strings[s]; ok {
		return kept
	}
	if d.strings == nil {
		d.strings = map[string]string{}
	}
	d.strings[s] = s
	return s
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	if path == "" {
		path = "(file)" // the document itself, e.g. a list or a number
	}
	e := Error{File: d.file, Field: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// at finds where path (or its nearest written parent) is in the file:
// from the nearest list or mapping decode recorded, down its keys and
// items (a record a scalar was 30,000 paths and map entries at 5,000
// checks, held through validation beside the parsed tree).
func (d *decoder) at(path string) *yaml.Node {
	if d.pos == nil {
		return nil // placed afterwards (place)
	}
	for p := path; ; {
		if n, ok := d.pos[p]; ok {
			if p == "" { // the document: a top-level key has no dot
				n, steps := below(n, "."+path)
				if steps == 0 {
					return nil
				}
				return n
			}
			n, _ = below(n, path[len(p):])
			return n
		}
		if p == "" {
			return nil
		}
		p = p[:max(strings.LastIndexAny(p, ".["), 0)]
	}
}

// below follows rest (".key" and "[i]" steps) down from n as far as the
// file has it, and says how many steps it took.
func below(n *yaml.Node, rest string) (*yaml.Node, int) {
	steps := 0
	for ; rest != ""; steps++ {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		var next *yaml.Node
		var after string
		switch {
		case rest[0] == '[' && n.Kind == yaml.SequenceNode:
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return n, steps
			}
			if i, err := strconv.Atoi(rest[1:end]); err == nil && i >= 0 && i < len(n.Content) {
				next, after = n.Content[i], rest[end+1:]
			}
		case rest[0] == '.' && n.Kind == yaml.MappingNode:
			// The longest key that rest goes on with, the first of equals
			// (a duplicate key is not decoded): keys may hold dots.
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				a, ok := strings.CutPrefix(rest[1:], k)
				if ok && (a == "" || a[0] == '.' || a[0] == '[') && (next == nil || len(a) < len(after)) {
					next, after = n.Content[i+1], a
				}
			}
		}
		if next == nil {
			return n, steps
		}
		n, rest = next, after
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n, steps
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	timeType     = reflect.TypeOf(time.Time{})
)

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode && d.pos != nil { // a scalar is found from its parent (at)
		d.pos[path] = n
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value keeps the default
	}
	switch {
	case v.Type() == durationType:
		d.duration(n, v, path)
	case v.Type() == timeType:
		d.timestamp(n, v, path)
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case v.Kind() == reflect.Struct:
		d.structure(n, v, path)
	case v.Kind() == reflect.Slice:
		d.slice(n, v, path)
	case v.Kind() == reflect.Map:
		d.mapping(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

// fields is a struct type's yaml keys with each one's field index,
// ",inline" members flattened. It is worked out once per type and decoder:
// worked out per value, 5,000 checks made 50 MB of maps to read a config
// file of half a megabyte, the peak of a start.
func (d *decoder) fields(t reflect.Type) map[string][]int {
	if fs, ok := d.types[t]; ok {
		return fs
	}
	out := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case tag == "-" || !f.IsExported():
		case opts == "inline":
			for k, idx := range d.fields(f.Type) {
				out[k] = append([]int{i}, idx...)
			}
		default:
			out[name] = []int{i}
		}
	}
	if d.types == nil {
		d.types = map[reflect.Type]map[string][]int{}
	}
	d.types[t] = out
	return out
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping of keys, got %s", kindName(n))
		return
	}
	fs := d.fields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		p := join(path, k.Value)
		if seen[k.Value] {
			d.fail(k, p, "duplicate key")
			continue
		}
		seen[k.Value] = true
		idx, ok := fs[k.Value]
		if !ok {
			d.fail(k, p, "unknown field %q", k.Value)
			continue
		}
		d.decode(val, v.FieldByIndex(idx), p)
	}
}

func (d *decoder) slice(n *yaml.Node, v reflect.Value, path string) {
	// A single scalar where a list of scalars is expected is a one-item
	// list: "status: 200" reads as "status: [200]".
	if n.Kind == yaml.ScalarNode && v.Type().Elem().Kind() == reflect.String {
		s := reflect.MakeSlice(v.Type(), 1, 1)
		d.scalar(n, s.Index(0), path+"[0]")
		v.Set(s)
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "expected a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		if d.pos == nil && !d.aliased {
			// Decoded, the item's nodes are garbage: a list of 5,000
			// checks is 10 MB of tree, the start's peak if held to the end.
			n.Content[i] = nil
		}
	}
	v.Set(s)
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		e := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, e, join(path, k.Value))
		m.SetMapIndex(reflect.ValueOf(k.Value), e)
	}
	v.Set(m)
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected a single value, got %s", kindName(n))
		return
	}
	s := n.Value
	switch v.Kind() {
	case reflect.String:
		v.SetString(d.intern(s))
	case reflect.Bool:
		switch strings.ToLower(s) {
		case "true", "yes", "on":
			v.SetBool(true)
		case "false", "no", "off":
			v.SetBool(false)
		default:
			d.fail(n, path, "expected true or false, got %q", s)
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			d.fail(n, path, "expected a whole number, got %q", s)
			return
		}
		v.SetInt(i)
	case reflect.Uint64: // raft's counts (cluster.snapshot_threshold, trailing_logs)
		u, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			d.fail(n, path, "expected a whole number of 0 or more, got %q", s)
			return
		}
		v.SetUint(u)
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			d.fail(n, path, "expected a number, got %q", s)
			return
		}
		v.SetFloat(f)
	default:
		d.fail(n, path, "unsupported type %s", v.Type())
	}
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected a duration like 30s, got %s", kindName(n))
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil || dur < 0 {
		d.fail(n, path, "invalid duration %q (use a number with a unit: 500ms, 30s, 5m, 48h)", n.Value)
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) timestamp(n *yaml.Node, v reflect.Value, path string) {
	t, err := time.Parse(time.RFC3339, n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		d.fail(n, path, "invalid time %q (use RFC 3339, e.g. 2026-12-01T02:00:00Z)", n.Value)
		return
	}
	v.Set(reflect.ValueOf(t.UTC()))
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}
