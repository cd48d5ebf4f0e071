package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
)

// A check's state is rewritten for every result applied to it, on every
// member of a cluster, where it carries each location's own state too:
// as JSON that is most of what a member pays for a result beyond the
// engine. So entries of CompactStateCodec write it in this compact form;
// older entries, as older Outposts apply them, still write JSON, and the
// checks bucket holds either (decodeCheckState tells them apart by the
// first byte: JSON's is '{').
//
// The form: compactState, then the state, each field in CheckState's
// order: strings and counts as a uvarint length then the bytes; integers
// as varints; a time as its Unix seconds (varint) and nanoseconds
// (uvarint), always UTC (the engine keeps its times in UTC, and JSON's
// "Z" decodes to the same value), the zero time being seconds
// -62135596800 and nanoseconds 0; Regions by sorted location, each a
// presence byte and a state without the leading byte; Round a presence
// byte and two times; Regional a count and strings; Unconfirmed a byte.
// So the same state always gives the same bytes, on every member.

// compactState leads a check state in the compact form: a byte JSON can
// never begin with.
const compactState = 0x01

// maxStateDepth bounds how deep Regions nest (the engine nests one
// level), so a hostile value cannot run the decoder's stack down.
const maxStateDepth = 4

// encodeCheckState returns cs in the compact form.
func encodeCheckState(cs *status.CheckState) ([]byte, error) {
	if cs == nil {
		return nil, errors.New("check state: none")
	}
	// A state without its message takes about 40 bytes, each location's
	// as much again: one allocation for most.
	buf := make([]byte, 1, 48+len(cs.LastMessage)+64*len(cs.Regions))
	buf[0] = compactState
	return appendCheckState(buf, cs, 0)
}

func appendCheckState(buf []byte, cs *status.CheckState, depth int) ([]byte, error) {
	if depth > maxStateDepth {
		return nil, fmt.Errorf("check state: regions nest deeper than %d", maxStateDepth)
	}
	if cs.LastOutcome > probes.Down { // never written: the decoder, as JSON, refuses it
		return nil, fmt.Errorf("check state: outcome %d", cs.LastOutcome)
	}
	buf = appendString(buf, string(cs.Status))
	buf = appendTime(buf, cs.Since, 0)
	for _, n := range [...]int{cs.Fails, cs.NotUp, cs.Oks, cs.NotDown} {
		buf = binary.AppendVarint(buf, int64(n))
	}
	buf = appendTime(buf, cs.LastAt, 0)
	buf = binary.AppendUvarint(buf, uint64(cs.LastOutcome))
	buf = appendString(buf, string(cs.LastReason))
	buf = appendString(buf, cs.LastMessage)
	buf = binary.AppendVarint(buf, int64(cs.LastLatency))
	buf = binary.AppendUvarint(buf, uint64(len(cs.Regions)))
	for _, loc := range slices.Sorted(maps.Keys(cs.Regions)) {
		buf = appendString(buf, loc)
		rg := cs.Regions[loc]
		if rg == nil {
			buf = append(buf, 0)
			continue
		}
		var err error
		if buf, err = appendCheckState(append(buf, 1), rg, depth+1); err != nil {
			return nil, err
		}
	}
	if cs.Round == nil {
		buf = append(buf, 0)
	} else {
		buf = appendTime(appendTime(append(buf, 1), cs.Round.Opened, 0), cs.Round.Deadline, 0)
	}
	buf = binary.AppendUvarint(buf, uint64(len(cs.Regional)))
	for _, loc := range cs.Regional {
		buf = appendString(buf, loc)
	}
	return append(buf, boolByte(cs.Unconfirmed)), nil
}

// decodeCheckState decodes a value of the checks bucket, compact or
// JSON. A value that does not decode is an error, never a panic, and no
// length or count in it is believed past the bytes left: what it
// allocates stays within a small multiple of the value's own size.
func decodeCheckState(v []byte) (*status.CheckState, error) {
	if len(v) > 0 && v[0] == compactState {
		d := reader{b: v[1:]}
		cs := d.checkState(0)
		if d.err == nil && len(d.b) > 0 {
			d.err = fmt.Errorf("%d bytes after the state", len(d.b))
		}
		if d.err != nil {
			return nil, fmt.Errorf("compact check state: %w", d.err)
		}
		return cs, nil
	}
	var cs status.CheckState
	if err := json.Unmarshal(v, &cs); err != nil {
		return nil, err
	}
	return &cs, nil
}

func (d *reader) checkState(depth int) *status.CheckState {
	if depth > maxStateDepth {
		d.fail(fmt.Errorf("regions nest deeper than %d", maxStateDepth))
		return nil
	}
	cs := &status.CheckState{Status: status.CheckStatus(d.string()), Since: d.timeAfter(0)}
	cs.Fails, cs.NotUp, cs.Oks, cs.NotDown = d.int(), d.int(), d.int(), d.int()
	cs.LastAt = d.timeAfter(0)
	if o := d.uvarint(); o <= uint64(probes.Down) { // JSON refuses an outcome it does not know
		cs.LastOutcome = probes.Outcome(o)
	} else {
		d.fail(fmt.Errorf("outcome %d", o))
	}
	cs.LastReason, cs.LastMessage = probes.Reason(d.string()), d.string()
	cs.LastLatency = time.Duration(d.varint())
	cs.Regions = d.regions(depth)
	switch d.byte() {
	case 0:
	case 1:
		cs.Round = &status.Round{Opened: d.timeAfter(0), Deadline: d.timeAfter(0)}
	default:
		d.fail(errors.New("bad round marker"))
	}
	if n := d.count(1); n > 0 {
		cs.Regional = make([]string, n)
		for i := range cs.Regional {
			cs.Regional[i] = d.string()
		}
	}
	cs.Unconfirmed = d.bool()
	return cs
}

// regions reads Regions: nil when there are none, as JSON's omitempty
// leaves them.
func (d *reader) regions(depth int) map[string]*status.CheckState {
	n := d.count(2) // a location's length and its presence byte at least
	if n == 0 {
		return nil
	}
	m := make(map[string]*status.CheckState, n)
	for range n {
		loc := d.string()
		switch d.byte() {
		case 0:
			m[loc] = nil
		case 1:
			m[loc] = d.checkState(depth + 1)
		default:
			d.fail(fmt.Errorf("region %q: bad presence marker", loc))
		}
		if d.err != nil {
			return nil
		}
	}
	return m
}
