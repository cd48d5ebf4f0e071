package store

import (
	"bytes"
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
// version from MinCodecVersion up to it. Version 1 carried the engine's
// output (a step); version 2 carries its inputs. No version-1 log was
// ever kept (a single node applies its entries as it writes them), so
// none is read. Version 3 is version 2's JSON applied another way: its
// results roll up through open records (OpenRollupCodec). Version 4
// carries the results in binary (BinaryResultsCodec, resultcodec.go),
// and its steps write the checks' states in the compact form
// (CompactStateCodec, statecodec.go).
const CodecVersion = 4

// OpenRollupCodec is the first codec version whose results roll up
// through the checks' open records (openrollup.go); a version-2 entry's
// go into the series directly, as an Outpost that knows only version 2
// applies them, so a mixed cluster's members write the same bytes.
const OpenRollupCodec = 3

// BinaryResultsCodec is the first codec version whose entries carry
// their results in binary (resultcodec.go); older ones are all JSON.
const BinaryResultsCodec = 4

// CompactStateCodec is the first codec version whose steps write the
// checks' states in the compact form (statecodec.go); an older entry's are
// written as JSON, as an Outpost that knows only older versions writes
// them, so a mixed cluster's members write the same bytes. Both forms are
// read.
const CompactStateCodec = 4

// MinCodecVersion is the oldest entry encoding this Outpost reads.
const MinCodecVersion = 2

// ErrUnknownVersion refuses an entry encoded by a codec this Outpost does
// not know.
var ErrUnknownVersion = errors.New("unknown codec version")

// EncodeEntry encodes e for a replicated log in this Outpost's codec.
func EncodeEntry(e Entry) ([]byte, error) { return EncodeEntryAt(e, CodecVersion) }

// EncodeEntryAt encodes e in codec version v, which the entry's readers
// must all know (a cluster's codec gate, status/cluster/codec.go).
func EncodeEntryAt(e Entry, v int) ([]byte, error) {
	if v < MinCodecVersion || v > CodecVersion {
		return nil, fmt.Errorf("encode entry: %w %d (this Outpost writes %d to %d)", ErrUnknownVersion, v, MinCodecVersion, CodecVersion)
	}
	if v >= BinaryResultsCodec {
		return encodeBinary(e, byte(v))
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode entry: %w", err)
	}
	out := make([]byte, 0, 1+len(b))
	return append(append(out, byte(v)), b...), nil
}

// DecodeEntry decodes what EncodeEntryAt encoded. It refuses another codec
// version (ErrUnknownVersion) and any field that Entry and the types in it
// do not have, naming the field's path. Field names match as
// encoding/json matches them (case-insensitively): a field so matched is
// understood, not dropped.
func DecodeEntry(data []byte) (Entry, error) {
	if len(data) == 0 {
		return Entry{}, errors.New("entry: empty")
	}
	v := data[0]
	if v < MinCodecVersion || v > CodecVersion {
		return Entry{}, fmt.Errorf("entry: %w %d (this Outpost reads %d to %d)", ErrUnknownVersion, v, MinCodecVersion, CodecVersion)
	}
	var e Entry
	var err error
	if v >= BinaryResultsCodec {
		e, err = decodeBinary(data)
	} else {
		e, err = decodeJSON(data[1:])
	}
	if err != nil {
		return Entry{}, err
	}
	e.Codec = int(v)
	return e, nil
}

// decodeJSON decodes an entry's JSON strictly: no field its types do not
// have, nothing after it.
func decodeJSON(body []byte) (Entry, error) {
	if b := bytes.TrimLeft(body, jsonSpace); len(b) == 0 || b[0] != '{' {
		return Entry{}, errors.New("entry: not a JSON object")
	}
	var e Entry
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		// The decoder's own message names no path: find it.
		if path := unknownField(body); path != "" {
			return Entry{}, fmt.Errorf("entry: unknown field %q", path)
		}
		return Entry{}, fmt.Errorf("entry: %w", err)
	}
	if len(bytes.TrimLeft(body[dec.InputOffset():], jsonSpace)) > 0 {
		return Entry{}, errors.New("entry: data after the entry")
	}
	// DisallowUnknownFields does not reach into a type that reads itself
	// (Subscription's UnmarshalJSON): an entry with such a part is walked
	// whole. Those parts are small; a step never is one.
	for _, i := range selfReading {
		if !reflect.ValueOf(&e).Elem().Field(i).IsZero() {
			if path := unknownField(body); path != "" {
				return Entry{}, fmt.Errorf("entry: unknown field %q", path)
			}
			break
		}
	}
	return e, nil
}

// jsonSpace is JSON's whitespace (bytes.TrimSpace's is Unicode's).
const jsonSpace = " \t\r\n"

// selfReading are the indices of Entry's parts whose types hold a struct
// that reads itself. Computed once from the types and never changed.
var selfReading = selfReadingParts(reflect.TypeFor[Entry]())

func selfReadingParts(entry reflect.Type) []int {
	var list []int
	for i := range entry.NumField() {
		if readsItself(entry.Field(i).Type, map[reflect.Type]bool{}) {
			list = append(list, i)
		}
	}
	return list
}

// readsItself reports whether t is or holds a struct with its own
// UnmarshalJSON. A type without fields that reads itself (time.Time, an
// Outcome) hides nothing and does not count.
func readsItself(t reflect.Type, seen map[reflect.Type]bool) bool {
	t = derefType(t)
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Struct:
		reads := reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]())
		for sf := range t.Fields() {
			if sf.IsExported() && (reads || readsItself(sf.Type, seen)) {
				return true
			}
		}
	case reflect.Slice, reflect.Array, reflect.Map:
		return readsItself(t.Elem(), seen)
	}
	return false
}

// unknownField is the path ("a[2].b") of the first field in body that
// Entry's types do not have, "" when there is none or body is no JSON.
func unknownField(body []byte) string {
	var tree any
	if json.Unmarshal(body, &tree) != nil {
		return ""
	}
	return strings.TrimPrefix((fieldSets{}).unknown(reflect.TypeFor[Entry](), tree), ".")
}

// fields are a struct type's JSON names with their types.
type fields struct {
	types map[string]reflect.Type
}

// fieldSets holds the fields of the struct types met in one walk (not a
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
			f.types[name] = sf.Type
		}
	}
}

// field is the type of the field key names, matched as encoding/json
// matches: exactly, else case-insensitively.
func (f *fields) field(key string) (reflect.Type, bool) {
	if t, ok := f.types[key]; ok {
		return t, true
	}
	for name, t := range f.types {
		if strings.EqualFold(name, key) {
			return t, true
		}
	}
	return nil, false
}

func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// unknown returns the path (".a[2].b") of the first field in v that t
// does not have, "" when there is none. Keys are walked in sorted order,
// so every node names the same field. A value whose shape does not match
// its type is left to the decoder, which refuses it; so is a type that
// reads itself from a non-object (time.Time from a string).
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
	keys := slices.Sorted(maps.Keys(x))
	// A field unknown here is named before one deeper down: an unknown
	// part says more than a field inside a known one.
	for _, k := range keys {
		if _, ok := f.field(k); !ok {
			return "." + k
		}
	}
	for _, k := range keys {
		ft, _ := f.field(k)
		if p := fs.unknown(ft, x[k]); p != "" {
			return "." + k + p
		}
	}
	return ""
}

// ErrHalted: the store stopped applying entries (see DecodeAt and HaltOn).
var ErrHalted = errors.New("applying entries halted")

// A replicated log's applier (status/machine's ApplyEncoded, raft's FSM in
// a cluster) decodes each entry with DecodeAt, applies it, and passes the
// outcome through HaltOn.
//
// An entry it cannot decode halts the store: an FSM cannot refuse a
// committed entry, and skipping it would leave this node's state apart
// from every node that understood it. So from then on the store applies
// nothing, and every Apply returns the same error, which Halted reports.
// The halt is not kept in the file: a restart replays the log from the
// last applied index, and an upgraded Outpost goes on from the entry that
// stopped this one.
//
// An entry that fails to apply for another reason than a refusal (a full
// disk, a value this version does not know) halts it too: the log's
// applier does not offer the same entry again, and applying the next one
// would pass this one unapplied. A restart, once the disk has room or the
// Outpost is upgraded, replays it.

// DecodeAt decodes the entry at a replicated log's index and gives it that
// index (whatever index it was encoded with: the writer does not know it).
// An entry it cannot decode halts the store.
func (s *Store) DecodeAt(data []byte, index uint64) (Entry, error) {
	if err := s.Halted(); err != nil {
		return Entry{}, err
	}
	if index == 0 {
		// Not a halt: a caller's mistake, not the log's content.
		return Entry{}, errors.New("apply encoded entry: no log index")
	}
	e, err := DecodeEntry(data)
	if err != nil {
		return Entry{}, s.HaltOn(index, err)
	}
	e.Index = index
	return e, nil
}

// HaltOn passes on the outcome of applying the entry at index: success, a
// refusal (every applier refuses it alike: the log moves past it) and a
// halt already in force come back as they are; any other failure halts
// the store.
func (s *Store) HaltOn(index uint64, err error) error {
	var r *Refusal
	if err == nil || errors.As(err, &r) || errors.Is(err, ErrHalted) {
		return err
	}
	err = fmt.Errorf("%w at log index %d: %w", ErrHalted, index, err)
	s.halt.CompareAndSwap(nil, &err)
	return s.Halted()
}

// Halted is why the store stopped applying entries (ErrHalted), nil while
// it applies them.
func (s *Store) Halted() error {
	if p := s.halt.Load(); p != nil {
		return *p
	}
	return nil
}
