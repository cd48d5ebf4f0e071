package probes

import (
	"fmt"
	"runtime"
	"testing"
)

// An HTTP check without TLS options (verification on, no pinned CA, no
// server name) holds no TLS configuration of its own: Go's client default
// is the same, and 5,000 checks held about 4 MB of copies of it, cloned
// again at every run.
func TestPlainHTTPProbesHoldNoTLSConfig(t *testing.T) {
	probes := make([]Probe, 2000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range probes {
		p, err := New(Spec{Name: fmt.Sprintf("check-%d", i), Kind: "http", Target: "http://127.0.0.1:1/"}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		probes[i] = p
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / int64(len(probes)); !raceOn && per > 700 {
		t.Errorf("a plain HTTP probe holds %d bytes", per)
	}
	runtime.KeepAlive(probes)
}

// A plain HTTP check holds its settings and nothing a run can make: a
// dialer (only the resolver is the check's) and an empty header map were
// about 240 of the 431 bytes each of 5,000 checks held.
func TestPlainHTTPProbeHoldsOnlyItsSettings(t *testing.T) {
	probes := make([]Probe, 2000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range probes {
		p, err := New(Spec{Name: fmt.Sprintf("check-%d", i), Kind: "http", Target: "http://127.0.0.1:1/"}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		probes[i] = p
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / int64(len(probes)); !raceOn && per > 256 {
		t.Errorf("a plain HTTP probe holds %d bytes", per)
	}
	runtime.KeepAlive(probes)
}
