package machine

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/outpost-status/outpost/status/store"
)

// logged encodes entries as a replicated log carries them, from index 1.
func logged(t *testing.T, entries []store.Entry) []Logged {
	t.Helper()
	out := make([]Logged, len(entries))
	for i, e := range entries {
		data, err := store.EncodeEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = Logged{Data: data, Index: uint64(i + 1), Term: 1}
	}
	return out
}

// withRefusals is the script with entries every applier refuses in the
// middle of it: a create-only setting made twice, a decision on a row that
// does not exist, and a writer's entry sent again after it applied.
func withRefusals() []store.Entry {
	s := script()
	keyed := func(sec int, seq uint64) store.Entry {
		in := results(sec, "nyc", "api-1=down")
		in.Writer, in.Seq = "nyc/9f", seq
		return store.Entry{At: at(sec), Inputs: in}
	}
	key := store.Setting{Key: "site_key", Value: "k1", Create: true}
	out := append([]store.Entry{}, s[:3]...)
	out = append(out,
		store.Entry{At: at(4), Settings: []store.Setting{key}},
		keyed(4, 1),
		store.Entry{At: at(4), Settings: []store.Setting{key}}, // refused: made once
		keyed(4, 1), // sent again: skipped
		store.Entry{At: at(4), Decide: &store.Decision{Seq: 999, Release: true, Actor: "oncall"}}, // refused: no such row
	)
	return append(out, s[3:]...)
}

// A run of committed entries applied as one batch leaves the file and
// answers exactly as the same entries applied one by one: a refusal in the
// middle refuses that entry alone, its neighbours apply, and the engine
// counts every step once.
func TestBatchAppliesAsOneByOne(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []store.Entry
		size    int // entries per batch
	}{
		{"the script in one batch", script(), 64},
		{"the script in runs of three", script(), 3},
		{"refusals in one batch", withRefusals(), 64},
		{"refusals in runs of five", withRefusals(), 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			one := newMachine(t, openStore(t, filepath.Join(dir, "one.db")))
			batched := newMachine(t, openStore(t, filepath.Join(dir, "batched.db")))
			logs := logged(t, tc.entries)
			var want, got []Outcome
			for _, l := range logs {
				res, err := one.ApplyEncoded(l.Data, l.Index, l.Term)
				want = append(want, Outcome{res, err})
			}
			for i := 0; i < len(logs); i += tc.size {
				got = append(got, batched.ApplyBatch(logs[i:min(i+tc.size, len(logs))])...)
			}
			if len(got) != len(want) {
				t.Fatalf("%d outcomes for %d entries", len(got), len(want))
			}
			refused := 0
			for i := range want {
				var rw, rg *store.Refusal
				if errors.As(want[i].Err, &rw) != errors.As(got[i].Err, &rg) || (want[i].Err == nil) != (got[i].Err == nil) {
					t.Errorf("entry %d: one by one %v, batched %v", i+1, want[i].Err, got[i].Err)
				}
				if rw != nil {
					refused++
				}
				if want[i].Result.Skipped != got[i].Result.Skipped || len(want[i].Result.Seqs) != len(got[i].Result.Seqs) {
					t.Errorf("entry %d: one by one %+v, batched %+v", i+1, want[i].Result, got[i].Result)
				}
			}
			if strings.HasPrefix(tc.name, "refusals") && refused != 2 {
				t.Errorf("%d entries refused, want 2", refused)
			}
			sameFiles(t, "one by one / batched", walk(t, one.st), walk(t, batched.st))
		})
	}
}

// writeCalls is the process's count of write system calls so far
// (/proc/self/io), or -1 where the system does not say.
func writeCalls(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "syscw: "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	return -1
}

// A run of committed entries is one transaction of the replicated file
// (and one of the local file for their raw results), not one each: a
// bbolt commit writes its dirty pages and its meta page and syncs, so
// committing 32 entries together makes far fewer writes than 32 commits.
func TestBatchCommitsOnce(t *testing.T) {
	if writeCalls(t) < 0 {
		t.Skip("no /proc/self/io here: the write calls cannot be counted")
	}
	var entries []store.Entry
	for i := range 32 {
		entries = append(entries, store.Entry{At: at(i + 1), Inputs: results(i+1, "ams", "api-1=up", "db-1=up")})
	}
	logs := logged(t, entries)
	dir := t.TempDir()
	one := newMachine(t, openStore(t, filepath.Join(dir, "one.db")))
	batched := newMachine(t, openStore(t, filepath.Join(dir, "batched.db")))
	before := writeCalls(t)
	for _, l := range logs {
		if _, err := one.ApplyEncoded(l.Data, l.Index, l.Term); err != nil {
			t.Fatal(err)
		}
	}
	single := writeCalls(t) - before
	before = writeCalls(t)
	for i, o := range batched.ApplyBatch(logs) {
		if o.Err != nil {
			t.Fatalf("entry %d: %v", i+1, o.Err)
		}
	}
	together := writeCalls(t) - before
	t.Logf("32 entries: %d write calls one by one, %d as one batch", single, together)
	if together*4 > single {
		t.Errorf("a batch of 32 entries made %d write calls, one by one %d: not one transaction", together, single)
	}
	sameFiles(t, "one by one / batched", walk(t, one.st), walk(t, batched.st))
}

// An entry the machine could not read the model for (the file failing)
// halts the store: raft moves past whatever its FSM returns, so an entry
// neither applied nor halted at would be skipped by this member alone.
// Before, the read's error came back and the store went on applying.
func TestModelReadFailureHalts(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "m.db"))
	m := newMachine(t, st)
	logs := logged(t, []store.Entry{{At: at(1), Inputs: results(1, "ams", "api-1=up")}})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := m.ApplyEncoded(logs[0].Data, logs[0].Index, logs[0].Term)
	if !errors.Is(err, store.ErrHalted) || st.Halted() == nil {
		t.Fatalf("an entry whose model could not be read: %v (halted: %v), want the store halted", err, st.Halted())
	}
}
