package machine

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/store"
)

// rollupScript is results of the model's two checks across an hour's and
// a day's end, with late results into periods already closed.
func rollupScript() []store.Entry {
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	in := func(at time.Time, ms int, checks ...string) store.Input {
		o := probes.Up
		if ms%7 == 0 {
			o = probes.Down
		}
		return store.Input{Check: checks[0], Node: "ams", Location: "loc-ams", At: at, Outcome: o, Reason: probes.ReasonOK,
			Latency: time.Duration(ms) * time.Millisecond}
	}
	var list []store.Entry
	add := func(at time.Time, rs ...store.Input) {
		list = append(list, store.Entry{At: at, Inputs: &store.Inputs{Results: rs}})
	}
	t := day.Add(22*time.Hour + 10*time.Minute)
	add(t, in(t, 3, "api-1"), in(t, 900, "db-1"))
	add(t.Add(30*time.Minute), in(t.Add(30*time.Minute), 14, "api-1"))
	add(t.Add(50*time.Minute), in(t.Add(50*time.Minute), 2, "api-1"), in(t.Add(50*time.Minute), 40, "db-1")) // 23:00: a new hour
	t = day.Add(24*time.Hour + 5*time.Minute)                                                                // a new day
	add(t, in(t, 5000, "api-1"), in(day.Add(23*time.Hour+50*time.Minute), 21, "db-1"))                       // and a late result
	add(t.Add(time.Minute), in(t.Add(-2*time.Hour), 1, "api-1"))                                             // late, into a closed hour
	add(t.Add(70*time.Minute), in(t.Add(70*time.Minute), 35, "api-1"), in(t.Add(70*time.Minute), 8, "db-1"))
	add(t.Add(71*time.Minute), in(t.Add(71*time.Minute), 12, "api-1"), in(t.Add(25*time.Minute), 6, "api-1")) // late, in the open day
	add(t.Add(3*time.Hour), in(t.Add(3*time.Hour), 70, "db-1"))
	return list
}

// rollupPrunes prune the script's roll-ups twice: 30 days after 00:30 on
// its second day (the hours before go, 01:00 and 03:00 stay), then 401
// days after (every day goes).
func rollupPrunes() []store.Entry {
	day := time.Date(2026, 3, 11, 0, 30, 0, 0, time.UTC)
	return []store.Entry{{At: day.Add(store.HourlyRetention), Prune: &store.Prune{Budget: 1000}},
		{At: day.Add(store.DailyRetention + 24*time.Hour), Prune: &store.Prune{Budget: 1000}}}
}

// applyAs applies entries through the codec stamped with version v(i),
// from index first on.
func applyAs(t *testing.T, m *Machine, first int, entries []store.Entry, v func(i int) byte) {
	t.Helper()
	for i, e := range entries {
		i += first - 1
		data, err := store.EncodeEntryAt(e, int(v(i)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.ApplyEncoded(data, uint64(i+1), 0); err != nil {
			t.Fatalf("entry %d as version %d: %v", i+1, data[0], err)
		}
	}
}

type rollups map[string][]store.CheckRollup

func readRollups(t *testing.T, st *store.Store) rollups {
	t.Helper()
	out := rollups{}
	for _, name := range []string{"api-1", "db-1"} {
		for _, daily := range []bool{false, true} {
			rs, err := st.CheckRollups(name, daily, time.Time{}, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			out[fmt.Sprint(name, " daily=", daily)] = rs
		}
	}
	return out
}

// Readers see the same roll-ups whichever way the entries rolled up:
// version 2 (the series' pages directly), version 3 (through open
// roll-ups), a file written the old way and then continued the new way,
// and back (a member writing version 2 before its gate opened).
func TestOpenRollupsReadAsBefore(t *testing.T) {
	entries := rollupScript()
	half := len(entries) / 2
	cases := []struct {
		name string
		v    func(i int) byte
	}{
		{"version 3", func(int) byte { return 3 }},
		{"old then new", func(i int) byte { return byte(2 + min(1, i/half)) }},
		{"new then old", func(i int) byte { return byte(3 - min(1, i/half)) }},
		{"alternating", func(i int) byte { return byte(2 + i%2) }},
	}
	dir := t.TempDir()
	old := newMachine(t, openStore(t, filepath.Join(dir, "old.db")))
	applyAs(t, old, 1, entries, func(int) byte { return 2 })
	want := readRollups(t, old.st)
	if n := len(want["api-1 daily=false"]); n != 4 {
		t.Fatalf("the old path holds %d hours of api-1, want 4: %+v", n, want)
	}
	var pruned []rollups
	for i, e := range rollupPrunes() {
		applyAs(t, old, len(entries)+1+i, []store.Entry{e}, func(int) byte { return 2 })
		pruned = append(pruned, readRollups(t, old.st))
	}
	if n := len(pruned[0]["api-1 daily=false"]) + len(pruned[0]["db-1 daily=false"]); n != 3 {
		t.Fatalf("the old path's first prune left %d hours, want 3: %+v", n, pruned[0])
	}
	same := func(t *testing.T, what string, got, want rollups) {
		t.Helper()
		for k, w := range want {
			if !reflect.DeepEqual(got[k], w) {
				t.Errorf("%s: %s:\n got %+v\nwant %+v", what, k, got[k], w)
			}
		}
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t, openStore(t, filepath.Join(dir, fmt.Sprintf("%d.db", i))))
			applyAs(t, m, 1, entries, tc.v)
			same(t, "applied", readRollups(t, m.st), want)
			for j, e := range rollupPrunes() {
				applyAs(t, m, len(entries)+1+j, []store.Entry{e}, func(int) byte { return 3 })
				same(t, fmt.Sprint("prune ", j+1), readRollups(t, m.st), pruned[j])
			}
			for k := range walk(t, m.st) {
				if strings.HasPrefix(k, "open_rollups/c:") {
					t.Errorf("%s left after every period's retention", k)
				}
			}
		})
	}
}

// A version-2 entry rolls up as before (a replayed old log gives the old
// bytes); version 3 keeps the open hour and day in open_rollups, and
// moves the file to schema 5, which an older Outpost refuses.
func TestCodecVersionPicksTheRollupPath(t *testing.T) {
	cases := []struct {
		v      byte
		open   bool
		schema byte
	}{{2, false, 4}, {3, true, 5}}
	for _, tc := range cases {
		t.Run(fmt.Sprint("version ", tc.v), func(t *testing.T) {
			m := newMachine(t, openStore(t, filepath.Join(t.TempDir(), "a.db")))
			applyAs(t, m, 1, rollupScript(), func(int) byte { return tc.v })
			open := 0
			for k := range walk(t, m.st) {
				if strings.HasPrefix(k, "open_rollups/c:") {
					open++
				}
			}
			if (open > 0) != tc.open {
				t.Errorf("%d open roll-ups, want some: %v", open, tc.open)
			}
			if s := walk(t, m.st)["meta/schema"]; len(s) != 4 || s[3] != tc.schema {
				t.Errorf("schema %x, want %d", s, tc.schema)
			}
		})
	}
}
