package store

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
)

// BenchmarkPutCheckStates is what this file's form saves a member per
// applied step: steps of 100 checks' states (of 3,000) written by entries
// of codec 3 (JSON) and 4 (compact), on a single node's states and on a
// three-location cluster's, without fsync (the write's CPU, not the
// disk's). The engine is left out: it is the same for both.
//
//	go test ./status/store -run '^$' -bench PutCheckStates -count 6 | benchstat -col /codec -
func BenchmarkPutCheckStates(b *testing.B) {
	for _, locations := range []int{1, 3} {
		for _, codec := range []int{OpenRollupCodec, CompactStateCodec} {
			b.Run(fmt.Sprintf("locations=%d/codec=%d", locations, codec), func(b *testing.B) { benchPutStates(b, codec, locations) })
		}
	}
}

func benchPutStates(b *testing.B, codec, locations int) {
	const checks, perStep = 3000, 100
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	states := make([]NamedCheckState, checks)
	for i := range states {
		cs := &status.CheckState{Status: status.CheckUp, Since: t0, Oks: 40, NotDown: 40, LastAt: t0.Add(time.Hour),
			LastOutcome: probes.Up, LastReason: probes.ReasonOK, LastLatency: 12 * time.Millisecond}
		if locations > 1 {
			cs = threeLocations()
		}
		states[i] = NamedCheckState{Name: fmt.Sprintf("check-%05d", i), State: cs}
	}
	next := 0
	apply := func() {
		st := &Step{Checks: make([]NamedCheckState, 0, perStep)}
		for range perStep {
			st.Checks = append(st.Checks, states[next%checks])
			next++
		}
		if _, err := s.Apply(Entry{At: t0, Codec: codec, Step: st}); err != nil {
			b.Fatal(err)
		}
	}
	for range checks / perStep { // every check has a state
		apply()
	}
	b.ResetTimer()
	for range b.N {
		apply()
	}
}
