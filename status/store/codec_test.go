package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
)

func mustEncode(t testing.TB, e Entry) []byte {
	t.Helper()
	data, err := EncodeEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustEncodeAt(t testing.TB, e Entry, v int) []byte {
	t.Helper()
	data, err := EncodeEntryAt(e, v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// withField re-encodes e with one more field, frobnicate, in the object at
// path (dot-separated keys and slice indices; "" is the entry itself), as
// a newer writer that knows a part or field this code does not would. It
// writes codec 3, all JSON; codec 4's head is read by the same decoder.
func withField(t testing.TB, e Entry, path string) []byte {
	t.Helper()
	data := mustEncodeAt(t, e, OpenRollupCodec)
	var root any
	if err := json.Unmarshal(data[1:], &root); err != nil {
		t.Fatal(err)
	}
	node := root
	for _, k := range strings.Split(path, ".") {
		if k == "" {
			continue
		}
		if i, err := strconv.Atoi(k); err == nil {
			node = node.([]any)[i]
		} else {
			node = node.(map[string]any)[k]
		}
	}
	node.(map[string]any)["frobnicate"] = true
	out, err := json.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{data[0]}, out...)
}

// scriptEntry is the first entry of the script that uses part.
func scriptEntry(t testing.TB, part string) Entry {
	t.Helper()
	for _, e := range script() {
		if reflect.ValueOf(e).FieldByName(part).IsZero() {
			continue
		}
		return e
	}
	t.Fatalf("the script has no %s", part)
	return Entry{}
}

// A newer writer's part or field that this code does not know is refused
// with its path, at every level (plain encoding/json dropped it, so an
// older node applied half of the entry), and so is another codec version.
func TestDecodeEntryRefusesWhatItDoesNotKnow(t *testing.T) {
	for _, tc := range []struct {
		part, path, want string
	}{
		{"Subscription", "", `entry: unknown field "frobnicate"`},
		{"Subscription", "subscription", `entry: unknown field "subscription.frobnicate"`},
		{"Inputs", "inputs.results.1", `entry: unknown field "inputs.results[1].frobnicate"`},
		{"Inputs", "inputs.commands.0", `entry: unknown field "inputs.commands[0].frobnicate"`},
		{"Announce", "announce.0.event", `entry: unknown field "announce[0].event.frobnicate"`},
		// Subscription reads itself (UnmarshalJSON): strict all the same.
		{"Subscribe", "subscribe.sub", `entry: unknown field "subscribe.sub.frobnicate"`},
		{"Subscribe", "subscribe.sub.secrets.0", `entry: unknown field "subscribe.sub.secrets[0].frobnicate"`},
		{"Outcomes", "outcomes.list.0", `entry: unknown field "outcomes.list[0].frobnicate"`},
		{"Audit", "audit.0", `entry: unknown field "audit[0].frobnicate"`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			e, err := DecodeEntry(withField(t, scriptEntry(t, tc.part), tc.path))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %s (decoded %+v)", err, tc.want, e)
			}
		})
	}
	good := mustEncodeAt(t, scriptEntry(t, "Inputs"), OpenRollupCodec)
	const json = OpenRollupCodec // the JSON codec's strictness
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"the next version", append([]byte{CodecVersion + 1}, good[1:]...), fmt.Sprintf("unknown codec version %d", CodecVersion+1)},
		// Version 1 carried the engine's output: no version-2 reader
		// takes it for inputs.
		{"version 1", append([]byte{1}, good[1:]...), "unknown codec version 1"},
		{"version 0", append([]byte{0}, good[1:]...), "unknown codec version 0"},
		{"bare JSON", good[1:], "unknown codec version 123"},
		{"empty", nil, "entry: empty"},
		{"names in another case", append([]byte{json}, `{"at":"2026-03-10T13:59:00Z","Subscribe":{"Sub":{"ID":"a","frob":1}}}`...),
			`entry: unknown field "Subscribe.Sub.frob"`},
		{"not an object", append([]byte{json}, `[1]`...), "entry: not a JSON object"},
		{"trailing data", append(bytes.Clone(good), `}`...), "entry: data after the entry"},
		{"not JSON", append([]byte{json}, `{"at":`...), "entry: unexpected EOF"},
		{"a part of the wrong type", append([]byte{json}, `{"at":"2026-03-10T13:59:00Z","inputs":5}`...), "entry: json: cannot unmarshal number"},
		// A writer's output never travels: a step in the log is unknown.
		{"a step", append([]byte{json}, `{"at":"2026-03-10T13:59:00Z","step":{"engine":{}}}`...), `entry: unknown field "step"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeEntry(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.HasPrefix(tc.name, "version") && !errors.Is(err, ErrUnknownVersion) {
				t.Fatalf("err = %v, not ErrUnknownVersion", err)
			}
		})
	}
}

// Every entry of the script (every part of Entry) encodes, decodes and
// encodes again to the same bytes, in the JSON codec and the binary
// results' one, and both carry the same entry.
func TestEveryScriptEntryRoundTrips(t *testing.T) {
	for i, e := range script() {
		var decoded []Entry
		for _, v := range []int{OpenRollupCodec, BinaryResultsCodec} {
			first := mustEncodeAt(t, e, v)
			back, err := DecodeEntry(first)
			if err != nil {
				t.Fatalf("entry %d, codec %d: %v", i, v, err)
			}
			if back.Codec != v {
				t.Errorf("entry %d: decoded as codec %d, want %d", i, back.Codec, v)
			}
			if again := mustEncodeAt(t, back, v); !bytes.Equal(first, again) {
				t.Errorf("entry %d, codec %d, changed in a round trip:\n%q\n%q", i, v, first, again)
			}
			back.Codec = 0
			decoded = append(decoded, back)
		}
		if !reflect.DeepEqual(decoded[0], decoded[1]) {
			t.Errorf("entry %d: the codecs carry different entries:\n%+v\n%+v", i, decoded[0], decoded[1])
		}
	}
}

// A part the codec does not know halts the applier: it applies nothing
// more, not the entry, not a later one, not a local one, and says why;
// the file is as it was before the entry.
func TestUnknownPartHaltsTheApplier(t *testing.T) {
	s, _ := openTemp(t)
	ann := func(id string) Entry {
		return Entry{At: t0, Announce: []Announcement{{Event: status.Event{ID: id}, Dests: []Dest{{Name: "ops"}}}}}
	}
	for i, id := range []string{"evt-1", "evt-2"} {
		if _, err := applyEncoded(s, mustEncode(t, ann(id)), uint64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Halted(); err != nil {
		t.Fatalf("halted before anything unknown: %v", err)
	}
	before := dump(t, s)
	_, err := applyEncoded(s, withField(t, ann("evt-3"), ""), 3)
	const want = `applying entries halted at log index 3: entry: unknown field "frobnicate"`
	if err == nil || err.Error() != want || !errors.Is(err, ErrHalted) {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if h := s.Halted(); h == nil || h.Error() != want {
		t.Fatalf("Halted() = %v, want %s", h, want)
	}
	for i := range 3 { // later entries, however good, and the local log
		var err error
		switch i {
		case 0:
			_, err = applyEncoded(s, mustEncode(t, ann("evt-4")), 4)
		case 1:
			_, err = applyEncoded(s, mustEncode(t, ann("evt-3")), 3)
		case 2:
			_, err = s.Apply(ann("evt-local"))
		}
		if err == nil || err.Error() != want {
			t.Errorf("entry %d while halted: err = %v, want %s", i, err, want)
		}
	}
	if after := dump(t, s); !reflect.DeepEqual(before, after) {
		t.Errorf("the file changed while halted: %d keys before, %d after", len(before), len(after))
	}
	if n, err := s.AppliedIndex(); err != nil || n != 2 {
		t.Errorf("applied index %d (%v), want 2", n, err)
	}
}

// An entry of the log that fails to apply for any reason other than a
// refusal (a value this version does not know, a full disk) stops the
// applier at it: raft's FSM does not call again with the same entry, so
// applying the next one would move the applied index past an entry this
// node never applied, and its state would leave the others'.
func TestFailedEntryIsNotSkipped(t *testing.T) {
	s, _ := openTemp(t)
	ann := func(id string) Entry {
		return Entry{At: t0, Announce: []Announcement{{Event: status.Event{ID: id}, Dests: []Dest{{Name: "ops"}}}}}
	}
	if _, err := applyEncoded(s, mustEncode(t, ann("evt-1")), 1); err != nil {
		t.Fatal(err)
	}
	newer := Entry{At: t0, Marks: []Mark{{Seq: 1, Dest: "ops", To: "bounced"}}} // a state a newer writer knows
	_, err := applyEncoded(s, mustEncode(t, newer), 2)
	var ref *Refusal
	if err == nil || errors.As(err, &ref) {
		t.Fatalf("entry 2: err = %v, want a failure that is no refusal", err)
	}
	if h := s.Halted(); h == nil || !strings.Contains(h.Error(), "log index 2") {
		t.Errorf("Halted() = %v after entry 2 failed, want the halt at log index 2", h)
	}
	if _, err := applyEncoded(s, mustEncode(t, ann("evt-3")), 3); !errors.Is(err, ErrHalted) {
		t.Errorf("entry 3 after entry 2 failed: err = %v, want %v", err, ErrHalted)
	}
	if n, err := s.AppliedIndex(); err != nil || n != 1 {
		t.Errorf("applied index %d (%v), want 1: entry 2 was never applied", n, err)
	}
}

// The decoder never panics, its own encoding of what it decoded decodes,
// and from there a round trip changes no byte. (From there, not from the
// first decode: Subscription reads a missing kind as webhook, so an entry
// whose subscription leaves its kind out, {"subscribe":{}} for one, comes
// back from its first round trip with the kind said. Every node reads the
// same bytes the same way, so no node differs from another by it.)
func FuzzDecodeEntry(f *testing.F) {
	for _, e := range script() {
		f.Add(mustEncode(f, e))
	}
	for _, e := range script() {
		f.Add(mustEncodeAt(f, e, OpenRollupCodec))
	}
	f.Add([]byte{OpenRollupCodec})
	f.Add(append([]byte{OpenRollupCodec}, `{"at":"2026-03-10T13:59:00Z","subscribe":{"sub":{"id":"a","secrets":[{"value":"v"}]}}}`...))
	f.Add(append([]byte{OpenRollupCodec}, `{"at":"2026-03-10T13:59:00Z","inputs":{"results":[{"check":"a","outcome":"down"}],"commands":[{"kind":"create_incident"}]}}`...))
	roundTrip := func(t *testing.T, data []byte) []byte {
		e, err := DecodeEntry(data)
		if err != nil {
			t.Fatalf("its own encoding does not decode: %v\n%s", err, data)
		}
		// In its own codec: a codec-3 entry may carry a time whose UTC
		// year is 10000 ("9999-12-31T23:00:00-05:00"), which codec 4
		// refuses to write; a leader re-encodes only down, never up.
		out, err := EncodeEntryAt(e, e.Codec)
		if err != nil {
			t.Fatalf("decoded but does not encode: %v", err)
		}
		return out
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := DecodeEntry(data); err != nil {
			return
		}
		// The decoder's fast path accepts only what the whole walk does.
		if path := unknownField(jsonOf(t, data)); path != "" {
			t.Fatalf("decoded with an unknown field %q", path)
		}
		first := roundTrip(t, roundTrip(t, data))
		if again := roundTrip(t, first); !bytes.Equal(first, again) {
			t.Fatalf("changed in a round trip:\n%s\n%s", first, again)
		}
	})
}

// stepEntry is a typical step: n results of n checks, a few down.
func stepEntry(n int) Entry {
	st := status.NewState()
	ch := &status.Changes{}
	for i := range n {
		name := fmt.Sprintf("check-%04d", i)
		o := probes.Up
		if i%50 == 0 {
			o = probes.Down
			st.Checks[name] = &status.CheckState{Status: status.CheckDown, Since: t0}
			ch.Checks = append(ch.Checks, name)
		}
		ch.Results = append(ch.Results, result(name, t0.Add(time.Duration(i)*time.Millisecond), o, time.Duration(i)*time.Microsecond))
	}
	return Entry{At: t0, Step: NewStep(ch, st, nil)}
}

// BenchmarkEntryCodec: the versioned, strict codec against plain
// encoding/json, encode and decode of a step of 300 results.
func BenchmarkEntryCodec(b *testing.B) {
	e := stepEntry(300)
	b.Run("codec", func(b *testing.B) {
		for b.Loop() {
			data, err := EncodeEntry(e)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := DecodeEntry(data); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			data, err := json.Marshal(e)
			if err != nil {
				b.Fatal(err)
			}
			var back Entry
			if err := json.Unmarshal(data, &back); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
		}
	})
}

// applyEncoded is what a replicated log's applier does with an entry that
// needs no engine (status/machine's ApplyEncoded with the engine left out).
func applyEncoded(s *Store, data []byte, index uint64) (Result, error) {
	e, err := s.DecodeAt(data, index)
	if err != nil {
		return Result{}, err
	}
	res, err := s.Apply(e)
	return res, s.HaltOn(index, err)
}
