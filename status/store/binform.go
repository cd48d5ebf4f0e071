package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// The store's binary forms (codec 4's results, resultcodec.go; the
// compact check state, statecodec.go) share their parts: a string is a
// uvarint length and the bytes, a time Unix seconds (varint) and
// nanoseconds (uvarint), read back in UTC, a flag a byte 0 or 1.

func appendString(out []byte, s string) []byte {
	return append(binary.AppendUvarint(out, uint64(len(s))), s...)
}

// appendTime appends t as seconds after base (0: Unix seconds) and
// nanoseconds.
func appendTime(out []byte, t time.Time, base int64) []byte {
	return binary.AppendUvarint(binary.AppendVarint(out, t.Unix()-base), uint64(t.Nanosecond()))
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// reader reads the binary forms. Its first failure sticks: every later
// read returns a zero value, so a decoder reads on and checks the error
// once. No length or count is believed past the bytes left.
type reader struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) varint() int64 {
	x, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return x
}

// int reads a varint that must fit an int (a value past its range is
// damage).
func (r *reader) int() int {
	v := r.varint()
	if int64(int(v)) != v {
		r.fail(fmt.Errorf("counter %d out of range", v))
		return 0
	}
	return int(v)
}

// count reads a length of items each at least least bytes long: one the
// rest cannot hold is refused before anything is allocated for it.
func (r *reader) count(least int) int {
	x := r.uvarint()
	if x > uint64(len(r.b)/least) {
		r.fail(fmt.Errorf("count %d exceeds the %d bytes left", x, len(r.b)))
		return 0
	}
	return int(x)
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.fail(errShort)
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) string() string { return string(r.bytes(r.count(1))) }

func (r *reader) byte() byte {
	if b := r.bytes(1); len(b) == 1 {
		return b[0]
	}
	return 0
}

func (r *reader) bool() bool {
	switch r.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail(errors.New("bad boolean"))
	return false
}

// timeAfter reads what appendTime wrote with base, as UTC.
func (r *reader) timeAfter(base int64) time.Time {
	sec, nsec := r.varint(), r.uvarint()
	if r.err != nil {
		return time.Time{}
	}
	if nsec >= uint64(time.Second) || (sec > 0 && base > math.MaxInt64-sec) || (sec < 0 && base < math.MinInt64-sec) {
		r.fail(fmt.Errorf("time %d s %d ns from %d", sec, nsec, base))
		return time.Time{}
	}
	return time.Unix(base+sec, int64(nsec)).UTC()
}
