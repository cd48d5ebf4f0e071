package store

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
)

// jsonOf is an encoded entry's JSON: all of it after the version byte in
// codecs 2 and 3, the head in codec 4.
func jsonOf(t testing.TB, data []byte) []byte {
	t.Helper()
	if data[0] < BinaryResultsCodec {
		return data[1:]
	}
	n, k := binary.Uvarint(data[1:])
	if k <= 0 || uint64(len(data)-1-k) < n {
		t.Fatalf("no head in %q", data)
	}
	return data[1+k : 1+k+int(n)]
}

// resultsEntry is what a member's monitor writes: n up results of n
// checks, a few down with a message, keyed as a member keys them.
func resultsEntry(n int) Entry {
	in := &Inputs{Writer: "ams/1733500000", Seq: 42, Model: "5d41402abc4b2a76"}
	for i := range n {
		r := Input{Check: fmt.Sprintf("check-%04d", i), Node: "ams", Location: "eu-west", At: t0.Add(time.Duration(i) * time.Millisecond),
			Outcome: probes.Up, Reason: probes.ReasonOK, Latency: time.Duration(i) * time.Microsecond}
		if i%50 == 0 {
			r.Outcome, r.Reason, r.Message = probes.Down, probes.ReasonTimeout, "no answer within 10s"
		}
		in.Results = append(in.Results, r)
	}
	return Entry{At: t0.Add(time.Second), Inputs: in}
}

// A damaged or hostile binary entry is refused with what is wrong, never
// read past, and never applied in part: every prefix of a good entry,
// and each single thing a writer of this codec never writes.
func TestBinaryResultsRefuseDamage(t *testing.T) {
	good := mustEncode(t, resultsEntry(3))
	for n := range len(good) {
		if e, err := DecodeEntry(good[:n]); err == nil {
			t.Fatalf("the first %d of %d bytes decoded: %+v", n, len(good), e)
		}
	}
	head := func(h string) []byte {
		out := binary.AppendUvarint([]byte{BinaryResultsCodec}, uint64(len(h)))
		return append(out, h...)
	}
	const in = `{"at":"2026-03-10T13:59:00Z","inputs":{"writer":"ams/1"}}`
	// one result of check "a", node/location/reason table ["", "ok"],
	// given its At and result byte.
	one := func(sec int64, nsec uint64, flags byte, table ...string) []byte {
		out := binary.AppendUvarint(head(in), 1)
		if table == nil {
			table = []string{"", "ok"}
		}
		out = binary.AppendUvarint(out, uint64(len(table)))
		for _, s := range table {
			out = appendString(out, s)
		}
		out = appendString(out, "a")
		out = append(out, 0, 0, 1)
		out = binary.AppendVarint(out, sec)
		out = binary.AppendUvarint(out, nsec)
		out = append(out, flags, 0)
		return appendString(out, "")
	}
	if e, err := DecodeEntry(one(0, 0, 0)); err != nil || len(e.Inputs.Results) != 1 || e.Inputs.Results[0].Reason != "ok" {
		t.Fatalf("the cases' well-formed base: %+v, %v", e, err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"a byte after the results", append(one(0, 0, 0), 0), "data after the entry"},
		{"bytes after no results", append(head(in), 0, 2, 1, 'x', 1, 'y', 0xde, 0xad), "data after the entry"},
		{"an outcome past down", one(0, 0, 3), "result byte 0x3"},
		{"an unknown flag", one(0, 0, 1<<5), "result byte 0x20"},
		{"nanoseconds past a second", one(0, uint64(time.Second), 0), "time 0 s 1000000000 ns"},
		{"a year JSON cannot write", one(300_000_000_000, 0, 0), "time in year"},
		{"a string past the table", one(0, 0, 0, "ok"), "string 1 of a table of 1"},
		{"more results than bytes", append(binary.AppendUvarint(head(in), 1000), make([]byte, 1500)...), "1000 results in 1500 bytes"},
		{"a head longer than the entry", binary.AppendUvarint([]byte{BinaryResultsCodec}, 500), "entry: head: count 500"},
		{"an unknown field in the head", append(head(`{"at":"2026-03-10T13:59:00Z","frobnicate":1}`), 0, 0), `entry: unknown field "frobnicate"`},
		{"results in the head", append(head(`{"at":"2026-03-10T13:59:00Z","inputs":{"results":[]}}`), 0, 0), "results in the head"},
		{"results without inputs", append(head(`{"at":"2026-03-10T13:59:00Z"}`), one(0, 0, 0)[len(head(in)):]...), "results without inputs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := DecodeEntry(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q (decoded %+v)", err, tc.want, e)
			}
		})
	}
}

// A result in codec 4 is a fraction of its JSON's size: the raft log, a
// forward frame and every member's decode carry that.
func TestBinaryResultsAreSmall(t *testing.T) {
	e := resultsEntry(1000)
	asJSON, asBinary := len(mustEncodeAt(t, e, OpenRollupCodec)), len(mustEncodeAt(t, e, BinaryResultsCodec))
	t.Logf("1,000 results: %d bytes as JSON, %d in binary", asJSON, asBinary)
	if asBinary*3 > asJSON {
		t.Errorf("1,000 results take %d bytes in binary, %d as JSON: want under a third", asBinary, asJSON)
	}
}

// BenchmarkResultsCodec: encode and decode of an entry of 1,000 results
// (a busy member's second), JSON (codec 3) against binary (codec 4).
func BenchmarkResultsCodec(b *testing.B) {
	e := resultsEntry(1000)
	for _, v := range []int{OpenRollupCodec, BinaryResultsCodec} {
		data := mustEncodeAt(b, e, v)
		b.Run(fmt.Sprintf("encode/codec-%d", v), func(b *testing.B) {
			for b.Loop() {
				if _, err := EncodeEntryAt(e, v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("decode/codec-%d", v), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := DecodeEntry(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// What the decoder refuses is never written: an entry the leader appends
// as built reaches every member without a decode before it, and one
// member's bad clock or a bug would halt them all.
func TestBinaryResultsRefuseToEncodeWhatCannotBeRead(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Input)
		want string
	}{
		{"a year JSON cannot write", func(r *Input) { r.At = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "result 1: time in year 10000"},
		{"an outcome past down", func(r *Input) { r.Outcome = 7 }, "result 1: outcome 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := resultsEntry(2)
			tc.edit(&e.Inputs.Results[1])
			if data, err := EncodeEntryAt(e, BinaryResultsCodec); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q (encoded %d bytes)", err, tc.want, len(data))
			}
		})
	}
}

// A result's strings may carry bytes that are not UTF-8 (a probe's
// message quotes what a target sent): JSON writes each such byte as
// U+FFFD, and the binary results write them as JSON would, so an entry
// is the same in either codec, and a leader that re-encodes a forwarded
// entry down changes nothing in it.
func TestInvalidUTF8IsTheSameInEveryCodec(t *testing.T) {
	bad := []struct{ name, in, want string }{
		{"message", "got \xff\xfe back", "got \uFFFD\uFFFD back"},
		{"check", "api-\xc3", "api-\uFFFD"},
		{"node", "am\x80s", "am\uFFFDs"},
		{"location", "eu-\xed\xa0\x80west", "eu-\uFFFD\uFFFD\uFFFDwest"},
		{"reason", "time\xf0\x9fout", "time\uFFFD\uFFFDout"},
	}
	in := &Inputs{Writer: "ams/1733500000", Seq: 1}
	for i, b := range bad {
		r := Input{Check: "api-1", Node: "ams", Location: "eu-west", At: t0.Add(time.Duration(i) * time.Second), Outcome: probes.Down, Reason: probes.ReasonTimeout}
		switch b.name {
		case "message":
			r.Message = b.in
		case "check":
			r.Check = b.in
		case "node":
			r.Node = b.in
		case "location":
			r.Location = b.in
		case "reason":
			r.Reason = probes.Reason(b.in)
		}
		in.Results = append(in.Results, r)
	}
	e := Entry{At: t0.Add(time.Minute), Inputs: in}
	var decoded []Entry
	for _, v := range []int{OpenRollupCodec, BinaryResultsCodec} {
		back, err := DecodeEntry(mustEncodeAt(t, e, v))
		if err != nil {
			t.Fatalf("codec %d: %v", v, err)
		}
		for i, b := range bad {
			r := back.Inputs.Results[i]
			got := map[string]string{"message": r.Message, "check": r.Check, "node": r.Node, "location": r.Location, "reason": string(r.Reason)}[b.name]
			if got != b.want {
				t.Errorf("codec %d: the %s %q decoded as %q, want %q (as JSON writes it)", v, b.name, b.in, got, b.want)
			}
		}
		back.Codec = 0
		decoded = append(decoded, back)
	}
	if !reflect.DeepEqual(decoded[0], decoded[1]) {
		t.Errorf("the codecs carry different entries:\n%+v\n%+v", decoded[0].Inputs.Results, decoded[1].Inputs.Results)
	}
}
