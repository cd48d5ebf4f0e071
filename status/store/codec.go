package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// The codec of a replicated log's entries. An entry is one byte, the codec
// version, then the entry's JSON. A node must never apply part of an
// entry: plain encoding/json drops what it does not know, so an older
// node would apply a newer writer's entry without its new part and its
// state would quietly leave the others'. So the version says what format
// follows (a change that an older reader would misread takes a new
// version, written only once every reader knows it), and decoding refuses
// any part or field, at any depth, that this code's types do not have.

// CodecVersion is the entry encoding this Outpost writes; it reads every
// version from 1 up to it.
const CodecVersion = 1

// ErrUnknownVersion refuses an entry encoded by a codec this Outpost does
// not know.
var ErrUnknownVersion = errors.New("unknown codec version")

// EncodeEntry encodes e for a replicated log.
func EncodeEntry(e Entry) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode entry: %w", err)
	}
	out := make([]byte, 0, 1+len(b))
	return append(append(out, CodecVersion), b...), nil
}

// DecodeEntry decodes what EncodeEntry encoded. It refuses another codec
// version (ErrUnknownVersion) and any field that Entry and the types in it
// do not have, naming the field's path.
func DecodeEntry(data []byte) (Entry, error) {
	if len(data) == 0 {
		return Entry{}, errors.New("entry: empty")
	}
	if v := data[0]; v < 1 || v > CodecVersion {
		return Entry{}, fmt.Errorf("entry: %w %d (this Outpost reads 1 to %d)", ErrUnknownVersion, v, CodecVersion)
	}
	body := data[1:]
	// encoding/json's DisallowUnknownFields would not do: it stops at a
	// type that reads itself (Subscription's UnmarshalJSON) and its error
	// names no path. So the document is read once as a tree and walked
	// beside the types, then decoded into them.
	var tree any
	if err := json.Unmarshal(body, &tree); err != nil {
		return Entry{}, fmt.Errorf("entry: %w", err)
	}
	if _, ok := tree.(map[string]any); !ok {
		return Entry{}, errors.New("entry: not a JSON object")
	}
	if path := (fieldSets{}).unknown(reflect.TypeFor[Entry](), tree); path != "" {
		return Entry{}, fmt.Errorf("entry: unknown field %q", strings.TrimPrefix(path, "."))
	}
	var e Entry
	if err := json.Unmarshal(body, &e); err != nil {
		return Entry{}, fmt.Errorf("entry: %w", err)
	}
	return e, nil
}

// fields are a struct type's JSON names, in declaration order, with their
// types.
type fields struct {
	names []string
	types map[string]reflect.Type
}

// fieldSets holds the fields of the struct types met in one decode (not a
// package-level cache: no mutable package state).
type fieldSets map[reflect.Type]*fields

func (fs fieldSets) of(t reflect.Type) *fields {
	if f, ok := fs[t]; ok {
		return f
	}
	f := &fields{types: map[string]reflect.Type{}}
	f.add(t)
	fs[t] = f
	return f
}

// add collects t's fields as encoding/json names them, with the fields of
// embedded structs promoted.
func (f *fields) add(t reflect.Type) {
	for sf := range t.Fields() {
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			if ft := derefType(sf.Type); ft.Kind() == reflect.Struct {
				f.add(ft)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if _, dup := f.types[name]; !dup {
			f.names = append(f.names, name)
		}
		f.types[name] = sf.Type
	}
}

func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// unknown returns the path (".a[2].b") of the first field in v that t
// does not have, "" when there is none. Objects are walked in the order
// of their type's fields and map keys in sorted order, so every node
// names the same field. A value whose shape does not match its type is
// left to json.Unmarshal, which refuses it; so is a type that reads
// itself from a non-object (time.Time from a string, an Outcome's name).
// Paths are built only on the way back from a find: a good entry costs
// no allocation here beyond the type table.
func (fs fieldSets) unknown(t reflect.Type, v any) string {
	t = derefType(t)
	switch x := v.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Struct:
			return fs.unknownInStruct(t, x)
		case reflect.Map:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				if p := fs.unknown(t.Elem(), x[k]); p != "" {
					return "." + k + p
				}
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, el := range x {
				if p := fs.unknown(t.Elem(), el); p != "" {
					return "[" + strconv.Itoa(i) + "]" + p
				}
			}
		}
	}
	return ""
}

func (fs fieldSets) unknownInStruct(t reflect.Type, x map[string]any) string {
	f := fs.of(t)
	// A field unknown here is named before one deeper down: an unknown
	// part says more than a field inside a known one.
	var extra []string
	for k := range x {
		if _, ok := f.types[k]; !ok {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		return "." + slices.Min(extra)
	}
	for _, name := range f.names {
		if v, ok := x[name]; ok {
			if p := fs.unknown(f.types[name], v); p != "" {
				return "." + name + p
			}
		}
	}
	return ""
}

// ErrHalted: the store stopped applying entries (see ApplyEncoded).
var ErrHalted = errors.New("applying entries halted")

// ApplyEncoded applies an entry of a replicated log (what the log's
// applier, raft's FSM in a cluster, calls): it decodes data, gives the
// entry the log's index (whatever index it was encoded with: the writer
// does not know it) and applies it.
//
// An entry it cannot decode halts the store: an FSM cannot refuse a
// committed entry, and skipping it would leave this node's state apart
// from every node that understood it. So from then on the store applies
// nothing, through ApplyEncoded or Apply, and every call returns the same
// error, which Halted reports. The halt is not kept in the file: a
// restart replays the log from the last applied index, and an upgraded
// Outpost goes on from the entry that stopped this one.
func (s *Store) ApplyEncoded(data []byte, index uint64) (Result, error) {
	if err := s.Halted(); err != nil {
		return Result{}, err
	}
	if index == 0 {
		// Not a halt: a caller's mistake, not the log's content.
		return Result{}, errors.New("apply encoded entry: no log index")
	}
	e, err := DecodeEntry(data)
	if err != nil {
		err = fmt.Errorf("%w at log index %d: %w", ErrHalted, index, err)
		s.halt.CompareAndSwap(nil, &err)
		return Result{}, s.Halted()
	}
	e.Index = index
	return s.Apply(e)
}

// Halted is why the store stopped applying entries (ErrHalted), nil while
// it applies them.
func (s *Store) Halted() error {
	if p := s.halt.Load(); p != nil {
		return *p
	}
	return nil
}
