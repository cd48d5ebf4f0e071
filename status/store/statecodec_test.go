package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
)

// threeLocations is a check's state in a three-location cluster: each
// location's own state, an open round, a regional failure.
func threeLocations() *status.CheckState {
	at := t0.Add(90 * time.Second)
	own := func(s status.CheckStatus, o probes.Outcome, r probes.Reason, fails int) *status.CheckState {
		return &status.CheckState{Status: s, Since: t0, Fails: fails, NotUp: fails, Oks: 3 - fails, NotDown: 3 - fails,
			LastAt: at, LastOutcome: o, LastReason: r, LastLatency: 1234567 * time.Nanosecond}
	}
	return &status.CheckState{Status: status.CheckUp, Since: t0.Add(-time.Hour), Oks: 12, NotDown: 12, LastAt: at,
		LastOutcome: probes.Down, LastReason: probes.ReasonTimeout, LastMessage: "context deadline exceeded", LastLatency: 5 * time.Second,
		Regions: map[string]*status.CheckState{
			"sgp": own(status.CheckDown, probes.Down, probes.ReasonTimeout, 3),
			"ams": own(status.CheckUp, probes.Up, probes.ReasonOK, 0),
			"nyc": own(status.CheckDegraded, probes.Degraded, probes.ReasonSlow, 1),
		},
		Round:    &status.Round{Opened: at.Add(-time.Second), Deadline: at.Add(29*time.Second + 7)},
		Regional: []string{"sgp"}, Unconfirmed: true}
}

// viaJSON is cs as the JSON form stores and loads it: what a loaded state
// must equal whichever form it was stored in.
func viaJSON(t *testing.T, cs *status.CheckState) *status.CheckState {
	t.Helper()
	b, err := json.Marshal(cs)
	if err != nil {
		t.Fatal(err)
	}
	var out status.CheckState
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// The compact form gives back exactly what JSON gives back, times in UTC
// and the zero time zero, and the same state always gives the same bytes
// (Regions in sorted order).
func TestCheckStateRoundTrips(t *testing.T) {
	long := strings.Repeat("connection reset by peer; ", 400)
	berlin := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		name string
		cs   *status.CheckState
	}{
		{"single node", &status.CheckState{Status: status.CheckDown, Since: t0, Fails: 3, NotUp: 3, LastAt: t0.Add(time.Minute),
			LastOutcome: probes.Down, LastReason: probes.ReasonConnectionRefused, LastMessage: "dial tcp 10.0.0.1:443: refused", LastLatency: time.Millisecond}},
		{"three locations", threeLocations()},
		{"empty", &status.CheckState{}},
		{"unknown with zero times", &status.CheckState{Status: status.CheckUnknown}},
		{"empty maps and slices", &status.CheckState{Status: status.CheckUp, Regions: map[string]*status.CheckState{}, Regional: []string{}}},
		{"a location without state", &status.CheckState{Regions: map[string]*status.CheckState{"ams": nil, "nyc": {Status: status.CheckUp}}}},
		{"long message", &status.CheckState{Status: status.CheckDown, LastMessage: long, LastAt: t0}},
		{"another zone and nanoseconds", &status.CheckState{Since: t0.In(berlin).Add(999999999), LastAt: time.Date(2262, 1, 1, 0, 0, 0, 1, berlin)}},
		{"far times", &status.CheckState{Since: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), LastAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)}},
		{"negative counters", &status.CheckState{Fails: -1, Oks: 1 << 40, LastLatency: -time.Second, LastOutcome: probes.Down}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := encodeCheckState(tc.cs)
			if err != nil {
				t.Fatal(err)
			}
			if data[0] == '{' {
				t.Fatalf("the compact form begins with %q", data[0])
			}
			got, err := decodeCheckState(data)
			if err != nil {
				t.Fatalf("decode %x: %v", data, err)
			}
			want := tc.cs
			if tc.cs.LastOutcome <= probes.Down { // JSON cannot carry an unknown outcome
				want = viaJSON(t, tc.cs)
			}
			want = inUTC(want)
			if !reflect.DeepEqual(got, want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(want)
				t.Fatalf("round trip:\n got %s\nwant %s", g, w)
			}
			if !got.Since.Equal(tc.cs.Since) || !got.LastAt.Equal(tc.cs.LastAt) || got.Since.IsZero() != tc.cs.Since.IsZero() {
				t.Errorf("times %v %v, want %v %v", got.Since, got.LastAt, tc.cs.Since, tc.cs.LastAt)
			}
			again, err := encodeCheckState(got)
			if err != nil || !bytes.Equal(again, data) {
				t.Errorf("re-encoded: %x (%v), want %x", again, err, data)
			}
		})
	}
}

// inUTC is cs with its times in UTC, as the engine keeps them.
func inUTC(cs *status.CheckState) *status.CheckState {
	if cs == nil {
		return nil
	}
	out := *cs
	out.Since, out.LastAt = cs.Since.UTC(), cs.LastAt.UTC()
	if cs.Round != nil {
		out.Round = &status.Round{Opened: cs.Round.Opened.UTC(), Deadline: cs.Round.Deadline.UTC()}
	}
	if cs.Regions != nil {
		out.Regions = map[string]*status.CheckState{}
		for k, v := range cs.Regions {
			out.Regions[k] = inUTC(v)
		}
	}
	return &out
}

// Regions are written in sorted order: maps built in different orders
// give the same bytes.
func TestCheckStateBytesAreDeterministic(t *testing.T) {
	first, err := encodeCheckState(threeLocations())
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		cs := threeLocations()
		regions := map[string]*status.CheckState{}
		for _, k := range []string{"nyc", "sgp", "ams"} {
			regions[k] = cs.Regions[k]
		}
		cs.Regions = regions
		if b, err := encodeCheckState(cs); err != nil || !bytes.Equal(b, first) {
			t.Fatalf("bytes %x (%v), want %x", b, err, first)
		}
	}
}

// The compact form is much smaller than JSON, most of all for a
// cluster's state with its locations.
func TestCompactCheckStateIsSmaller(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cs     *status.CheckState
		within float64 // of JSON's size at most
	}{
		{"single node", &status.CheckState{Status: status.CheckUp, Since: t0, Oks: 40, NotDown: 40, LastAt: t0.Add(time.Hour),
			LastOutcome: probes.Up, LastReason: probes.ReasonOK, LastLatency: 12 * time.Millisecond}, 0.4},
		{"three locations", threeLocations(), 0.4},
	} {
		j, _ := json.Marshal(tc.cs)
		c, err := encodeCheckState(tc.cs)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: JSON %d bytes, compact %d", tc.name, len(j), len(c))
		if float64(len(c)) > tc.within*float64(len(j)) {
			t.Errorf("%s: compact %d bytes, JSON %d: want at most %.0f%%", tc.name, len(c), len(j), 100*tc.within)
		}
	}
}

// A damaged or hostile compact value is an error: never a panic, never
// an allocation its length fields ask for beyond the value's own size.
func TestCompactCheckStateRefusesDamage(t *testing.T) {
	good, err := encodeCheckState(threeLocations())
	if err != nil {
		t.Fatal(err)
	}
	huge := []byte{compactState, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}
	// A state of zeros up to its Regions: status, since, four counters,
	// last at, outcome, reason, message, latency.
	zeros := make([]byte, 13)
	manyRegions := append(append([]byte{compactState}, zeros...), 0x80, 0x80, 0x80, 0x80, 0x04) // 1<<30
	deep := []byte{compactState}
	for range maxStateDepth + 2 { // each level: one region "a" with a state
		deep = append(append(deep, zeros...), 1, 1, 'a', 1)
	}
	for _, tc := range []struct {
		name string
		v    []byte
	}{
		{"lead byte only", []byte{compactState}},
		{"truncated", good[:len(good)/2]},
		{"one byte short", good[:len(good)-1]},
		{"trailing bytes", append(append([]byte{}, good...), 0)},
		{"huge string length", huge},
		{"huge region count", manyRegions},
		{"bad boolean", append(append([]byte{}, good[:len(good)-1]...), 2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if cs, err := decodeCheckState(tc.v); err == nil {
				t.Fatalf("decoded %+v, want an error", cs)
			}
		})
	}
	// An outcome JSON does not know is refused both ways, as JSON refuses it.
	plain := append(append([]byte{compactState}, zeros...), 0, 0, 0, 0)
	if _, err := decodeCheckState(plain); err != nil {
		t.Fatalf("a state of zeros: %v", err)
	}
	plain[1+9] = byte(probes.Down) + 1
	if cs, err := decodeCheckState(plain); err == nil || !strings.Contains(err.Error(), "outcome 3") {
		t.Errorf("an outcome past down: %+v, %v, want refused", cs, err)
	}
	if _, err := encodeCheckState(&status.CheckState{LastOutcome: probes.Down + 1}); err == nil {
		t.Error("a state with an outcome past down encoded")
	}
	if _, err := decodeCheckState(deep); err == nil || !strings.Contains(err.Error(), "deeper") {
		t.Errorf("regions nested %d deep: %v, want refused for the depth", maxStateDepth+2, err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, v := range [][]byte{huge, manyRegions} {
		_, _ = decodeCheckState(v)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Errorf("huge lengths allocated %d bytes", n)
	}
}

func FuzzDecodeCheckState(f *testing.F) {
	for _, cs := range []*status.CheckState{{}, threeLocations()} {
		b, err := encodeCheckState(cs)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		j, _ := json.Marshal(cs)
		f.Add(j)
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		cs, err := decodeCheckState(v)
		if err != nil || len(v) == 0 || v[0] != compactState {
			return
		}
		// What decodes encodes, and decodes again to the same state.
		b, err := encodeCheckState(cs)
		if err != nil {
			t.Fatalf("decoded %x but cannot encode it: %v", v, err)
		}
		again, err := decodeCheckState(b)
		if err != nil || !reflect.DeepEqual(again, cs) {
			t.Fatalf("decoded %x, encoded %x, decoded again %+v (%v), want %+v", v, b, again, err, cs)
		}
	})
}

// A file written before the compact form (every state JSON, as an Outpost
// of codec 3 writes it) opens and serves the same state; new results
// rewrite the states they step in the compact form, and the file opens
// again with both forms in it. An entry of codec 3 still writes JSON.
func TestJSONStatesUpgradeToCompact(t *testing.T) {
	s, path := openTemp(t)
	md := model()
	md.Checks = append(md.Checks, status.CheckDef{Name: "api-2", Component: "api", FailureThreshold: 2, SuccessThreshold: 1, Every: 30 * time.Second})
	e := status.NewEngine(md, nil)
	apply := func(codec int, at time.Time, checks ...string) {
		t.Helper()
		var rs []status.CheckResult
		for _, c := range checks {
			rs = append(rs, result(c, at, probes.Down, time.Second))
		}
		ch := e.Apply(status.Batch{Now: at, Results: rs})
		if _, err := s.Apply(Entry{At: at, Codec: codec, Step: NewStep(ch, e.State(), nil)}); err != nil {
			t.Fatal(err)
		}
	}
	lead := func(check string) byte {
		t.Helper()
		var v []byte
		if err := s.db.View(func(tx *bolt.Tx) error { v = tx.Bucket(bucketChecks).Get([]byte(check)); return nil }); err != nil || len(v) == 0 {
			t.Fatalf("state of %s: %q (%v)", check, v, err)
		}
		return v[0]
	}
	apply(OpenRollupCodec, t0, "api-1", "api-2")
	apply(OpenRollupCodec, t0.Add(30*time.Second), "api-1", "api-2")
	if lead("api-1") != '{' || lead("api-2") != '{' {
		t.Fatalf("codec %d wrote states beginning %q %q, want JSON", OpenRollupCodec, lead("api-1"), lead("api-2"))
	}
	reopen := func() {
		t.Helper()
		want, _ := json.Marshal(e.State().Checks)
		s.Close()
		var err error
		if s, err = Open(path, Options{}); err != nil {
			t.Fatal(err)
		}
		st, err := s.LoadState(t0.Add(time.Hour), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := json.Marshal(st.Checks); !bytes.Equal(got, want) {
			t.Fatalf("loaded\n%s\nwant\n%s", got, want)
		}
		e = status.NewEngine(md, st)
	}
	reopen()
	apply(CompactStateCodec, t0.Add(time.Minute), "api-1")
	if lead("api-1") != compactState || lead("api-2") != '{' {
		t.Fatalf("after a codec-%d result: states begin %q %q, want api-1 compact, api-2 JSON", CompactStateCodec, lead("api-1"), lead("api-2"))
	}
	reopen()
	apply(0, t0.Add(90*time.Second), "api-2") // a single node's entry: this Outpost's codec
	if lead("api-2") != compactState {
		t.Fatalf("a single node's result wrote %q", lead("api-2"))
	}
	reopen()
	s.Close()
}

// A damaged compact state is the file's damage at open, as a damaged JSON
// one is (TestOpenChecksWhatTheEngineLoads).
func TestDamagedCompactStateIsDamage(t *testing.T) {
	s, path := openTemp(t)
	e := status.NewEngine(model(), nil)
	drive(t, s, e, nil, status.Batch{Now: t0, Results: []status.CheckResult{result("api-1", t0, probes.Down, 0)}})
	if err := s.db.Update(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketChecks).Get([]byte("api-1"))
		if len(v) == 0 || v[0] != compactState {
			t.Fatalf("state %q, want the compact form", v)
		}
		return tx.Bucket(bucketChecks).Put([]byte("api-1"), append([]byte{}, v[:len(v)-3]...))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err := Open(path, Options{})
	if err == nil {
		s.Close()
		t.Fatal("a file with a truncated compact state opens")
	}
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "check api-1: compact check state") {
		t.Fatalf("Open: %v, want ErrDamaged naming the check", err)
	}
}
