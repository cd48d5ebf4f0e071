package machine

import (
	"path/filepath"
	"testing"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// The vote inside apply: three locations' results, a round opened in one
// entry and decided in another, an applier restarted from its file in the
// middle of the round. Every applier reaches the same file, and the
// verdict is the vote's (two of three locations down: an incident).
func TestEveryApplierReachesTheSameVerdict(t *testing.T) {
	voting := func() *status.Model {
		m := model()
		m.Locations = []string{"loc-ams", "loc-nyc", "loc-sgp"}
		return m
	}
	dir := t.TempDir()
	open := func(name string) (*store.Store, *Machine) {
		st := openStore(t, filepath.Join(dir, name))
		m, err := New(Options{Store: st, Model: voting(), Route: route, Site: site})
		if err != nil {
			t.Fatal(err)
		}
		return st, m
	}
	aStore, a := open("a.db")
	_, b := open("b.db")
	entries := []store.Entry{
		{At: at(1), Inputs: results(1, "ams", "api-1=up", "db-1=up")},
		{At: at(1), Inputs: results(1, "nyc", "api-1=up", "db-1=up")},
		{At: at(2), Inputs: results(2, "sgp", "api-1=up", "db-1=up")},
		{At: at(4), Inputs: results(4, "nyc", "api-1=down")}, // a round opens
		{At: at(5), Inputs: results(5, "ams", "api-1=down")},
		{At: at(6), Inputs: results(6, "sgp", "api-1=up")},  // decided: down
		{At: at(9), Inputs: results(9, "sgp", "db-1=down")}, // a round opens
		{At: at(10), Inputs: results(10, "ams", "db-1=up")},
		{At: at(11), Inputs: results(11, "nyc", "db-1=up")},  // decided: up
		{At: at(40), Inputs: results(40, "sgp", "api-1=up")}, // a recovery round
		{At: at(41), Inputs: results(41, "ams", "api-1=up")},
		{At: at(75), Inputs: &store.Inputs{}}, // nyc never answers: the deadline decides
	}
	for i, e := range entries {
		e.Index = uint64(i + 1)
		if _, err := a.Apply(e); err != nil {
			t.Fatalf("a: entry %d: %v", e.Index, err)
		}
		data, err := store.EncodeEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.ApplyEncoded(data, e.Index, 0); err != nil {
			t.Fatalf("b: entry %d: %v", e.Index, err)
		}
		if i == 3 || i == 6 || i == 9 { // b's node restarts mid-round
			b.st.Close()
			_, b = open("b.db")
		}
		if i == 5 {
			incs, err := aStore.Incidents(5, nil, nil)
			if err != nil || len(incs) != 1 || !incs[0].Open() {
				t.Fatalf("after two of three locations failed: incidents %v (%v), want one open", incs, err)
			}
		}
	}
	sameFiles(t, "a / b restarted mid-round", walk(t, aStore), walk(t, b.st))
	incs, _ := aStore.Incidents(5, nil, nil)
	if len(incs) != 1 || incs[0].Open() {
		t.Fatalf("incidents %+v: want the one, resolved by the recovery round at its deadline", incs)
	}
}
