package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/outpost-status/outpost/probes"
)

// Codec 4 (BinaryResultsCodec) carries an entry's results in binary, the
// rest of the entry in codec 3's strict JSON. Results are nearly all of
// a busy log's bytes, and every member decodes every entry (the leader
// once more, before it appends a forwarded one): as JSON a result was
// 135 bytes and about 2.1 µs to decode, with a time parsed from text and
// an outcome from its name.
//
// The entry: the version byte; the JSON head's length (uvarint) and the
// head, the entry without Inputs.Results; then the results: their count,
// a table of the short strings they repeat (node, location, reason), and
// each result: check (length and bytes), node, location and reason (table
// indexes), At as seconds from the entry's At (varint) and nanoseconds
// (uvarint), one byte of outcome (bits 0–1) and screenshot (bit 2),
// latency in nanoseconds (varint), message (length and bytes). Every
// length and count is checked against what is left and every byte must be
// read, so a hostile or damaged entry is refused, never read past or
// allocated for beyond its own size.

// encodeBinary encodes e in codec v (BinaryResultsCodec or newer).
func encodeBinary(e Entry, v byte) ([]byte, error) {
	head := e
	var results []Input
	if e.Inputs != nil {
		in := *e.Inputs
		results, in.Results = in.Results, nil
		head.Inputs = &in
	}
	h, err := json.Marshal(head)
	if err != nil {
		return nil, fmt.Errorf("encode entry: %w", err)
	}
	out := make([]byte, 0, 1+binary.MaxVarintLen64+len(h)+8+len(results)*40)
	out = append(out, v)
	out = binary.AppendUvarint(out, uint64(len(h)))
	out = append(out, h...)
	return appendResults(out, e.At, results)
}

// writable refuses a result the decoder would refuse, as JSON refused to
// write such a time: an entry the leader appends as built is never
// decoded before every member applies it.
func writable(r Input) error {
	if r.Outcome > probes.Down {
		return fmt.Errorf("outcome %d", r.Outcome)
	}
	if y := r.At.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Errorf("time in year %d", y)
	}
	return nil
}

// appendResults appends results, with At kept as seconds from base's.
func appendResults(out []byte, base time.Time, results []Input) ([]byte, error) {
	out = binary.AppendUvarint(out, uint64(len(results)))
	var table []string
	index := map[string]int{}
	ref := func(s string) int {
		i, ok := index[s]
		if !ok {
			i = len(table)
			index[s] = i
			table = append(table, asJSON(s))
		}
		return i
	}
	refs := make([]int, 0, 3*len(results))
	for _, r := range results {
		refs = append(refs, ref(r.Node), ref(r.Location), ref(string(r.Reason)))
	}
	out = binary.AppendUvarint(out, uint64(len(table)))
	for _, s := range table {
		out = appendString(out, s)
	}
	for i, r := range results {
		if err := writable(r); err != nil {
			return nil, fmt.Errorf("encode entry: result %d: %w", i, err)
		}
		out = appendString(out, asJSON(r.Check))
		for _, x := range refs[3*i : 3*i+3] {
			out = binary.AppendUvarint(out, uint64(x))
		}
		out = appendTime(out, r.At, base.Unix())
		flags := byte(r.Outcome)
		if r.Screenshot {
			flags |= flagScreenshot
		}
		out = append(out, flags)
		out = binary.AppendVarint(out, int64(r.Latency))
		out = appendString(out, asJSON(r.Message))
	}
	return out, nil
}

// asJSON is s as encoding/json writes it: each byte that is not part of
// valid UTF-8 becomes U+FFFD (strings.ToValidUTF8 would make a run of
// them one). Codecs 2 and 3 carry a probe's message, which may quote
// what a target sent, that way: so the same entry decodes alike in
// every codec, and a leader that re-encodes a forwarded entry down
// changes nothing. The decoder reads the bytes as they are: an entry an
// earlier writer put in the log raw is read alike by every member.
func asJSON(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// minResult is the fewest bytes a result takes: a byte for each of its
// nine parts.
const minResult = 9

// flagScreenshot is the result byte's bit for Input.Screenshot; bits 0–1
// are the outcome.
const flagScreenshot = 1 << 2

// decodeBinary decodes what encodeBinary encoded, as strictly as the JSON
// codec: the head refuses what its types do not have, and the results
// must use every byte.
func decodeBinary(data []byte) (Entry, error) {
	r := reader{b: data[1:]}
	n := r.count(1)
	head := r.bytes(n)
	if r.err != nil {
		return Entry{}, fmt.Errorf("entry: head: %w", r.err)
	}
	e, err := decodeJSON(head)
	if err != nil {
		return Entry{}, err
	}
	if e.Inputs != nil && e.Inputs.Results != nil {
		return Entry{}, errors.New("entry: results in the head")
	}
	results, err := r.results(e.At)
	if err != nil {
		return Entry{}, fmt.Errorf("entry: results: %w", err)
	}
	if len(results) > 0 {
		if e.Inputs == nil {
			return Entry{}, errors.New("entry: results without inputs")
		}
		e.Inputs.Results = results
	}
	return e, nil
}

// ref is a table index.
func (r *reader) ref(table []string) string {
	i := r.uvarint()
	if r.err == nil && i >= uint64(len(table)) {
		r.fail(fmt.Errorf("string %d of a table of %d", i, len(table)))
	}
	if r.err != nil {
		return ""
	}
	return table[i]
}

func (r *reader) results(base time.Time) ([]Input, error) {
	// Each result takes at least minResult bytes: what n may allocate
	// stays within a small multiple of the entry's own size.
	n := r.count(1)
	if n > len(r.b)/minResult {
		r.fail(fmt.Errorf("%d results in %d bytes", n, len(r.b)))
	}
	table := make([]string, r.count(1))
	for i := range table {
		table[i] = r.string()
	}
	if r.err != nil {
		return nil, r.err
	}
	var out []Input
	if n > 0 {
		out = make([]Input, n)
	}
	for i := range out {
		r.result(&out[i], table, base)
		if r.err != nil {
			return nil, fmt.Errorf("result %d: %w", i, r.err)
		}
	}
	if len(r.b) > 0 {
		return nil, errors.New("data after the entry")
	}
	return out, nil
}

func (r *reader) result(in *Input, table []string, base time.Time) {
	in.Check = r.string()
	in.Node, in.Location, in.Reason = r.ref(table), r.ref(table), probes.Reason(r.ref(table))
	in.At = r.timeAfter(base.Unix())
	if y := in.At.Year(); r.err == nil && (y < 0 || y > 9999) {
		// JSON's times stop there: such a result could not be written
		// to the file (a check's state is JSON), so it would halt apply.
		r.fail(fmt.Errorf("time in year %d", y))
	}
	flags := r.byte()
	if r.err == nil && (flags&^(flagScreenshot|3) != 0 || probes.Outcome(flags&3) > probes.Down) {
		r.fail(fmt.Errorf("result byte %#x", flags))
	}
	in.Outcome, in.Screenshot = probes.Outcome(flags&3), flags&flagScreenshot != 0
	in.Latency = time.Duration(r.varint())
	in.Message = r.string()
}
