package store

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
)

// fileDump opens the bbolt file at path read-only (its store closed) and
// returns its keys and values by top-level bucket, sub-bucket keys joined
// with "/"; nil when there is no file.
func fileDump(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]map[string]string{}
	var walk func(m map[string]string, prefix string, b *bolt.Bucket) error
	walk = func(m map[string]string, prefix string, b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(m, prefix+string(k)+"/", b.Bucket(k))
			}
			m[prefix+string(k)] = string(v)
			return nil
		})
	}
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			out[string(name)] = map[string]string{}
			return walk(out[string(name)], "", b)
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// bucketNames lists a dump's buckets, for messages.
func bucketNames(d map[string]map[string]string) []string {
	var out []string
	for name := range d {
		out = append(out, name)
	}
	return out
}

// The replicated file holds no raw result, screenshot or Bluesky session:
// the raw results of an applied step go to the node-local file beside it
// (path + ".local"), with the roll-ups made from them staying replicated;
// a step entry carries a reference to a screenshot, never its bytes.
func TestRawResultsGoToTheLocalFile(t *testing.T) {
	s, path := openTemp(t)
	shot := probes.Result{Outcome: probes.Down, Reason: probes.ReasonTimeout, Screenshot: []byte("\x89PNG local only")}
	ch := &status.Changes{Results: []status.CheckResult{{Check: "api-1", At: t0, Result: shot}, result("api-1", t0.Add(time.Second), probes.Up, time.Millisecond)}}
	e := Entry{At: t0, Step: NewStep(ch, status.NewState(), nil)}
	data, err := EncodeEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("PNG")) || bytes.Contains(data, []byte("iVBOR")) {
		t.Errorf("the step entry carries the screenshot's bytes: %s", data)
	}
	mustApply(t, s, e)
	if rs, err := s.Results("api-1", t0, t0.Add(time.Minute), 10); err != nil || len(rs) != 2 {
		t.Fatalf("results read back: %+v (%v)", rs, err)
	}
	s.Close()
	repl, local := fileDump(t, path), fileDump(t, path+".local")
	for _, name := range []string{"results", "screenshots"} {
		if _, ok := repl[name]; ok {
			t.Errorf("the replicated file has a %s bucket (buckets %v)", name, bucketNames(repl))
		}
	}
	if len(repl["open_rollups"]) == 0 {
		t.Errorf("the roll-ups left the replicated file: %v", bucketNames(repl))
	}
	if local == nil {
		t.Fatalf("no local file at %s.local", path)
	}
	if n := len(local["raw"]); n != 2 {
		t.Errorf("the local file holds %d raw results, want 2: %v", n, local["raw"])
	}
	if fi, err := os.Stat(path + ".local"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("local file mode %v (%v), want 0600", fi.Mode(), err)
	}
}

// A Snapshot covers the replicated file only, and Restore keeps the node's
// own local file: raw results from before the restore are still this
// node's, none of the snapshot's source.
func TestRestoreKeepsTheLocalFile(t *testing.T) {
	a, _ := openTemp(t)
	b, bpath := openTemp(t)
	mustApply(t, a, Entry{At: t0, Index: 1, Step: NewStep(&status.Changes{Results: []status.CheckResult{result("api-1", t0, probes.Down, 0)}}, status.NewState(), nil)})
	mustApply(t, b, Entry{At: t0, Index: 1, Step: NewStep(&status.Changes{Results: []status.CheckResult{result("api-1", t0.Add(time.Second), probes.Up, 0)}}, status.NewState(), nil)})
	var snap bytes.Buffer
	if _, err := a.Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(snap.String(), "context deadline exceeded") {
		t.Error("the snapshot carries a raw result's message: it holds node-local data")
	}
	if err := b.Restore(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	rs, err := b.Results("api-1", t0, t0.Add(time.Minute), 10)
	if err != nil || len(rs) != 1 || rs[0].Result.Outcome != probes.Up {
		t.Errorf("b's raw results after the restore: %+v (%v), want its own one result", rs, err)
	}
	if days, _ := b.CheckRollups("api-1", true, t0.Add(-24*time.Hour), t0.Add(time.Hour)); len(days) != 1 || days[0].Runs != 1 || days[0].Down != 1 {
		t.Errorf("b's roll-ups after the restore: %+v, want a's", days)
	}
	b.Close()
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(bpath), "*")); len(leftovers) != 2 {
		t.Errorf("files beside the data file: %v, want it and its local file", leftovers)
	}
}

// schema3File writes a data file as Outpost wrote it before the split
// (schema 3): raw results, screenshots and a Bluesky session in the one
// file, beside replicated state, with no local file.
func schema3File(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "outpost.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, Entry{At: t0, Settings: []Setting{{Key: "heartbeat/api", Value: "h1"}}})
	s.Close()
	os.Remove(path + ".local")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		results, err := tx.CreateBucketIfNotExists([]byte("results"))
		if err != nil {
			return err
		}
		shots, err := tx.CreateBucketIfNotExists([]byte("screenshots"))
		if err != nil {
			return err
		}
		rb, _ := results.CreateBucketIfNotExists([]byte("api-1"))
		sb, _ := shots.CreateBucketIfNotExists([]byte("api-1"))
		for i := range 3 {
			at := t0.Add(time.Duration(i) * time.Minute)
			if err := rb.Put(timeKey(at), encodeResult(probes.Result{Outcome: probes.Down, Reason: probes.ReasonTimeout})); err != nil {
				return err
			}
		}
		if err := sb.Put(timeKey(t0), []byte("\x89PNG old")); err != nil {
			return err
		}
		set := tx.Bucket([]byte("settings"))
		if err := set.Put([]byte("bluesky/status.example.com/refresh"), []byte("r1")); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), be32(3))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// A schema-3 file is split at Open: its raw results, screenshots and
// Bluesky session move to the local file, the replicated file keeps the
// rest (the heartbeat setting) and says schema 4. A crash between the
// copy's commit and the deletion's (the local file written, the
// replicated file still at 3) redoes both: the copy is idempotent.
func TestSchema3FileIsSplitAtOpen(t *testing.T) {
	for _, crashed := range []bool{false, true} {
		path := schema3File(t)
		if crashed { // the copy committed, then the process died
			s, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			local := fileDump(t, path+".local")
			os.Remove(path)
			path2 := schema3File(t)
			if err := os.Rename(path2, path); err != nil {
				t.Fatal(err)
			}
			if len(local["results"]) != 3 {
				t.Fatalf("crashed: the first open copied %d results", len(local["results"]))
			}
		}
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		rs, err := s.Results("api-1", t0, t0.Add(time.Hour), 10)
		if err != nil || len(rs) != 3 {
			t.Errorf("crashed %v: %d raw results after the split (%v), want 3", crashed, len(rs), err)
		}
		if png, err := s.ScreenshotAt("api-1", t0); err != nil || string(png) != "\x89PNG old" {
			t.Errorf("crashed %v: screenshot %q (%v)", crashed, png, err)
		}
		if v, err := s.Setting("heartbeat/api"); err != nil || v != "h1" {
			t.Errorf("crashed %v: the replicated setting: %q (%v)", crashed, v, err)
		}
		s.Close()
		repl, local := fileDump(t, path), fileDump(t, path+".local")
		for _, name := range []string{"results", "screenshots"} {
			if _, ok := repl[name]; ok {
				t.Errorf("crashed %v: the replicated file kept its %s bucket", crashed, name)
			}
		}
		if v, ok := repl["settings"]["bluesky/status.example.com/refresh"]; ok {
			t.Errorf("crashed %v: the replicated file kept the Bluesky session %q", crashed, v)
		}
		if local["settings"]["bluesky/status.example.com/refresh"] != "r1" || len(local["results"]) != 3 || len(local["screenshots"]) != 1 {
			t.Errorf("crashed %v: the local file holds %v", crashed, local)
		}
		if got := repl["meta"]["schema"]; got != string(be32(4)) {
			t.Errorf("crashed %v: replicated schema %x, want 4", crashed, got)
		}
	}
}

// A write to the local file that fails after its entry committed (here the
// local file closed under the store) neither fails nor undoes the entry:
// the replicated part stands, the applied index moves, and the failure is
// logged and counted (LocalErrors). What is lost is that step's raw
// results.
func TestFailedLocalWriteKeepsTheEntry(t *testing.T) {
	var logged bytes.Buffer
	path := filepath.Join(t.TempDir(), "outpost.db")
	s, err := Open(path, Options{Logger: slog.New(slog.NewJSONHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.local.Close(); err != nil {
		t.Fatal(err)
	}
	e := Entry{At: t0, Index: 1, Step: NewStep(&status.Changes{Results: []status.CheckResult{result("api-1", t0, probes.Down, 0)}}, status.NewState(), nil)}
	if _, err := s.Apply(e); err != nil {
		t.Fatalf("Apply = %v: a failed local write failed the committed entry", err)
	}
	if n, err := s.AppliedIndex(); err != nil || n != 1 {
		t.Errorf("applied index %d (%v), want 1", n, err)
	}
	if days, err := s.CheckRollups("api-1", true, t0.Add(-24*time.Hour), t0.Add(time.Hour)); err != nil || len(days) != 1 || days[0].Runs != 1 {
		t.Errorf("the entry's roll-up: %+v (%v)", days, err)
	}
	if n := s.LocalErrors(); n != 1 {
		t.Errorf("LocalErrors = %d, want 1", n)
	}
	if _, err := s.Apply(Entry{At: t0.Add(48 * time.Hour), Index: 2, Prune: &Prune{RawRetention: time.Hour, Budget: 10}}); err != nil {
		t.Errorf("a prune whose local part fails: %v", err)
	}
	if n := s.LocalErrors(); n != 2 {
		t.Errorf("LocalErrors = %d after the prune, want 2", n)
	}
	if !strings.Contains(logged.String(), `"level":"ERROR","msg":"local write failed after its entry committed","write":"raw results"`) {
		t.Errorf("not logged as an error: %s", logged.String())
	}
	if err := s.PutScreenshot("api-1", t0, []byte("png")); err == nil {
		t.Error("PutScreenshot on a closed local file: no error")
	}
}

// localDump is every key and value of s's local file by top-level bucket.
func localDump(t *testing.T, s *Store) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	if err := s.viewLocal(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			m := map[string]string{}
			out[string(name)] = m
			var walk func(prefix string, b *bolt.Bucket) error
			walk = func(prefix string, b *bolt.Bucket) error {
				return b.ForEach(func(k, v []byte) error {
					if v == nil {
						return walk(prefix+string(k)+"/", b.Bucket(k))
					}
					m[prefix+string(k)] = string(v)
					return nil
				})
			}
			return walk("", b)
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameLocal compares two stores' local files bucket by bucket, key by key:
// every bucket in localBuckets must be in both, and none other.
func sameLocal(t *testing.T, a, b *Store) {
	t.Helper()
	da, db := localDump(t, a), localDump(t, b)
	if len(da) != len(localBuckets()) || len(db) != len(localBuckets()) {
		t.Errorf("local buckets %v / %v, want those of localBuckets()", bucketNames(da), bucketNames(db))
	}
	for _, name := range localBuckets() {
		ka, kb := da[string(name)], db[string(name)]
		for k, v := range ka {
			if w, ok := kb[k]; !ok || w != v {
				t.Errorf("local %s/%s: %q / %q (present %v)", name, k, v, w, ok)
			}
		}
		if len(ka) != len(kb) {
			t.Errorf("local %s: %d keys / %d keys", name, len(ka), len(kb))
		}
	}
}

// An entry's raw results of neighbouring checks (the scheduler runs them
// in name order) rewrite a few pages of the local file, not one or more
// per result: on a node that has kept results a while, a sub-bucket per
// check made every result rewrite its check's pages.
func TestRawResultsOfAnEntryWriteFewPages(t *testing.T) {
	s, _ := openTemp(t)
	const checks = 1000
	name := func(i int) string { return fmt.Sprintf("check-%04d", i) }
	at := t0
	for range 30 { // every check has kept 30 results
		var rs []Input
		for i := range checks {
			at = at.Add(30 * time.Millisecond)
			rs = append(rs, Input{Check: name(i), At: at, Outcome: probes.Up, Latency: time.Millisecond})
		}
		mustApply(t, s, Entry{At: at, Step: &Step{Results: rs}})
	}
	var rs []Input
	first := at.Add(10 * time.Millisecond)
	for i := range 100 {
		at = at.Add(10 * time.Millisecond)
		rs = append(rs, Input{Check: name(400 + i), At: at, Outcome: probes.Up, Latency: time.Millisecond})
	}
	writes := func() int64 { st := s.local.Stats(); return st.TxStats.GetWrite() }
	before := writes()
	mustApply(t, s, Entry{At: at, Step: &Step{Results: rs}})
	n := writes() - before
	t.Logf("%d pages written", n)
	if n > 10 {
		t.Errorf("100 raw results of neighbouring checks wrote %d pages of the local file, want at most 10", n)
	}
	if got, err := s.Results("", first, at.Add(time.Second), 1000); err != nil || len(got) != 100 || got[0].Check != name(400) || got[99].Check != name(499) {
		t.Errorf("read back %d results (%v)", len(got), err)
	}
}

// Every raw result is kept, also two of a check in the same nanosecond
// and a late one whose key is already taken: in one entry, in a later
// entry, and below and above the bucket's last key.
func TestRawResultsOfOneInstantAreAllKept(t *testing.T) {
	s, _ := openTemp(t)
	step := func(rs ...status.CheckResult) {
		t.Helper()
		mustApply(t, s, Entry{At: t0.Add(time.Hour), Step: NewStep(&status.Changes{Results: rs}, status.NewState(), nil)})
	}
	at := func(ns int) time.Time { return t0.Add(time.Duration(ns)) }
	const ms = time.Millisecond // latency tells the results apart
	step(result("api-1", at(10), probes.Up, 1*ms), result("api-1", at(10), probes.Up, 2*ms), result("db-1", at(10), probes.Up, 3*ms))
	step(result("api-1", at(10), probes.Up, 4*ms), result("api-1", at(11), probes.Up, 5*ms)) // the last key's instant, and above it
	step(result("api-1", at(5), probes.Up, 6*ms), result("api-1", at(12), probes.Up, 7*ms), result("api-1", at(12), probes.Up, 8*ms))
	got, err := s.Results("api-1", t0, t0.Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	var lat []time.Duration
	for _, r := range got {
		lat = append(lat, r.Result.Latency)
	}
	slices.Sort(lat)
	if want := []time.Duration{1 * ms, 2 * ms, 4 * ms, 5 * ms, 6 * ms, 7 * ms, 8 * ms}; !slices.Equal(lat, want) {
		t.Errorf("api-1's raw results by latency %v, want %v", lat, want)
	}
}
