package machine

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/statuspage"
	"github.com/outpost-status/outpost/status/store"
)

var t0 = time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func model() *status.Model {
	return &status.Model{SiteTitle: "Acme", AutoIncidents: true, ReopenWindow: 10 * time.Minute,
		Components: []status.ComponentDef{{ID: "api", Name: "API"}, {ID: "db", Name: "Database"}},
		Checks: []status.CheckDef{
			{Name: "api-1", Component: "api", FailureThreshold: 2, SuccessThreshold: 2, RecheckInterval: 2 * time.Second, Every: 30 * time.Second},
			{Name: "db-1", Component: "db", FailureThreshold: 1, SuccessThreshold: 1, Every: 30 * time.Second},
		}}
}

func route(status.Event) []store.Dest {
	return []store.Dest{{Name: "mastodon"}, {Name: store.WebhooksDest}}
}

var site = statuspage.Site{ID: "acme", Name: "Acme", URL: "https://status.example.com", TimeZone: "UTC", Location: time.UTC}

func openStore(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newMachine(t *testing.T, st *store.Store) *Machine {
	t.Helper()
	m, err := New(Options{Store: st, Model: model(), Route: route, Site: site})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func results(sec int, node string, rs ...string) *store.Inputs {
	in := &store.Inputs{}
	for _, r := range rs {
		check, outcome, _ := strings.Cut(r, "=")
		o, reason := probes.Up, probes.ReasonOK
		if outcome == "down" {
			o, reason = probes.Down, probes.ReasonTimeout
		}
		in.Results = append(in.Results, store.Input{Check: check, Node: node, Location: "loc-" + node, At: at(sec), Outcome: o, Reason: reason,
			Latency: time.Duration(sec) * time.Millisecond, Message: "run at " + fmt.Sprint(sec)})
	}
	return in
}

// script is what two writers (nodes ams and nyc) put in one log: results
// that open and resolve an incident, people's commands, a delivery's
// marks, a tick that starts a maintenance window, and pruning.
func script() []store.Entry {
	return []store.Entry{
		{At: at(1), Inputs: results(1, "ams", "api-1=up", "db-1=up")},
		{At: at(2), Inputs: results(2, "nyc", "api-1=down")},
		{At: at(4), Inputs: results(3, "ams", "api-1=down", "db-1=up")}, // the incident opens
		{At: at(5), Inputs: &store.Inputs{Commands: []status.Command{
			{Kind: status.CreateIncident, Name: "Database slow", Status: status.Investigating, Impact: status.ImpactMinor, Body: "Looking.", Author: "oncall",
				Components: map[string]status.ComponentStatus{"db": status.DegradedPerformance}},
			{Kind: status.ScheduleMaintenance, Name: "Upgrade", Body: "DB upgrade", Author: "oncall", Start: at(60), End: at(120),
				Components: map[string]status.ComponentStatus{"db": ""}}}}},
		{At: at(6), Marks: []store.Mark{{Seq: 1, Dest: "mastodon", To: store.Sending}}},
		{At: at(7), Marks: []store.Mark{{Seq: 1, Dest: "mastodon", To: store.Sent, RemoteID: "109", Thread: "x"}}},
		{At: at(30), Inputs: results(29, "nyc", "api-1=up")},
		{At: at(33), Inputs: results(32, "ams", "api-1=up", "db-1=up")}, // resolved
		{At: at(61), Inputs: &store.Inputs{}},                           // a tick: the window starts
		{At: at(62), Inputs: results(62, "nyc", "db-1=down")},
		{At: at(125), Inputs: &store.Inputs{}}, // the window ends
		{At: at(130), Inputs: &store.Inputs{Commands: []status.Command{ // a window over two components
			{Kind: status.ScheduleMaintenance, Name: "Network", Author: "oncall", Start: at(200), End: at(300),
				Components: map[string]status.ComponentStatus{"db": "", "api": ""}}}}},
		{At: at(201), Inputs: results(201, "ams", "api-1=up", "db-1=up")},
		{At: at(3 * 24 * 3600), Prune: &store.Prune{RawRetention: 48 * time.Hour, Budget: 100}},
	}
}

// late is what the script's writers send after it, read from a writer's
// own file as web reads it: a postmortem on an incident the engine no
// longer keeps (resolved days ago), carried as a Loaded copy.
func late(t *testing.T, st *store.Store) []store.Entry {
	t.Helper()
	incs, err := st.Incidents(10, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var old *status.Incident
	for _, inc := range incs {
		if !inc.Open() && inc.Maintenance == nil {
			old = inc
		}
	}
	if old == nil {
		t.Fatal("the script resolved no incident")
	}
	day := at(3*24*3600 + 60)
	return []store.Entry{
		{At: day, Inputs: &store.Inputs{Commands: []status.Command{
			{Kind: status.AddPostmortem, IncidentID: old.ID, Body: "What happened.", Author: "oncall", Loaded: old}}}},
		{At: day.Add(time.Minute), Inputs: results(3*24*3600+120, "nyc", "api-1=down", "db-1=down")},
	}
}

func walk(t *testing.T, st *store.Store) map[string]string {
	t.Helper()
	out, err := st.Contents()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameFiles(t *testing.T, what string, a, b map[string]string) {
	t.Helper()
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			t.Errorf("%s: %q: %q / %q", what, k, v, w)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			t.Errorf("%s: %q only in the second", what, k)
		}
	}
}

// The determinism contract on inputs: one log of two writers' inputs,
// applied as built to one store, through the codec (as raft carries it) to
// another, and to a third whose node restarts halfway (the engine loaded
// again from its file), leaves three files with the same keys and values:
// the same state, incidents, ids, outbox rows and payloads. The log is a
// rolling upgrade's: entries stamped with the codec before the compact
// check state (written as JSON), then with it, then before it again (a
// reload that shut the gate), then with it.
func TestEveryApplierReachesTheSameState(t *testing.T) {
	dir := t.TempDir()
	a := newMachine(t, openStore(t, filepath.Join(dir, "a.db")))
	b := newMachine(t, openStore(t, filepath.Join(dir, "b.db")))
	cPath := filepath.Join(dir, "c.db")
	cStore := openStore(t, cPath)
	c := newMachine(t, cStore)
	stampOf := func(i int) int {
		if i < 6 || i == 9 || i == 10 {
			return store.OpenRollupCodec
		}
		return store.CompactStateCodec
	}
	for i, e := range script() {
		index := uint64(i + 1)
		e.Index = index
		e.Codec = stampOf(i)
		if _, err := a.Apply(e); err != nil {
			t.Fatalf("a: entry %d: %v", index, err)
		}
		data, err := store.EncodeEntryAt(e, e.Codec)
		if err != nil {
			t.Fatal(err)
		}
		if i == 4 && walk(t, a.st)["checks/api-1"][0] != '{' {
			t.Fatalf("entries of codec %d wrote api-1's state %q, want JSON", store.OpenRollupCodec, walk(t, a.st)["checks/api-1"])
		}
		if _, err := b.ApplyEncoded(data, index, 0); err != nil {
			t.Fatalf("b: entry %d: %v", index, err)
		}
		if i == 4 { // c's node restarts: a new engine from its file
			if err := cStore.Close(); err != nil {
				t.Fatal(err)
			}
			cStore = openStore(t, cPath)
			c = newMachine(t, cStore)
		}
		if _, err := c.ApplyEncoded(data, index, 0); err != nil {
			t.Fatalf("c: entry %d: %v", index, err)
		}
	}
	for i, e := range late(t, a.st) { // each applier gets the same entries
		index := uint64(len(script()) + i + 1)
		e.Index = index
		data, err := store.EncodeEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Apply(e); err != nil {
			t.Fatalf("a: late entry %d: %v", index, err)
		}
		for _, m := range []*Machine{b, c} {
			if _, err := m.ApplyEncoded(data, index, 0); err != nil {
				t.Fatalf("late entry %d: %v", index, err)
			}
		}
	}
	fa := walk(t, a.st)
	if v := fa["checks/api-1"]; len(v) == 0 || v[0] == '{' {
		t.Errorf("entries of codec %d wrote api-1's state %q, want the compact form", store.CompactStateCodec, v)
	}
	sameFiles(t, "as built / through the codec", fa, walk(t, b.st))
	sameFiles(t, "as built / restarted", fa, walk(t, cStore))
	// The script did what it says: two incidents (one automatic and
	// resolved, one by hand) and a maintenance window, each announced
	// with a payload built inside apply.
	incs, err := a.st.Incidents(10, nil, nil)
	if err != nil || len(incs) != 4 {
		t.Fatalf("incidents %d (%v), want 4", len(incs), err)
	}
	postmortems := 0
	for _, inc := range incs {
		if inc.Postmortem != "" {
			postmortems++
		}
		if inc.Maintenance != nil && inc.Name == "Network" && (len(inc.Components) != 2 || inc.Components[0] != "api") {
			t.Errorf("a window over two components lists %v, want page order", inc.Components)
		}
	}
	if postmortems != 1 {
		t.Errorf("%d postmortems, want the one carried with a Loaded incident", postmortems)
	}
	rows := 0
	for k, v := range fa {
		if strings.HasPrefix(k, "outbox/") && !strings.HasSuffix(k, "#seq") && strings.Contains(v, `"incident":{`) {
			rows++
			if !strings.Contains(v, `"data":{`) {
				t.Errorf("outbox row %s has no payload: %s", k, v)
			}
		}
	}
	if rows < 3 {
		t.Fatalf("%d incident rows in the outbox, want at least 3", rows)
	}
}

// A replayed log (a restart, a snapshot older than the log's tail) offers
// entries the file holds already: the machine skips them before the
// engine sees them, so the engine does not step twice.
func TestReplayedEntriesDoNotStepTheEngineTwice(t *testing.T) {
	dir := t.TempDir()
	a := newMachine(t, openStore(t, filepath.Join(dir, "a.db")))
	b := newMachine(t, openStore(t, filepath.Join(dir, "b.db")))
	list := script()
	for i, e := range list {
		data, err := store.EncodeEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.ApplyEncoded(data, uint64(i+1), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := b.ApplyEncoded(data, uint64(i+1), 0); err != nil {
			t.Fatal(err)
		}
		if i == 3 { // b's log is replayed from its start
			for j := 0; j <= i; j++ {
				again, _ := store.EncodeEntry(list[j])
				res, err := b.ApplyEncoded(again, uint64(j+1), 0)
				if err != nil || !res.Skipped {
					t.Fatalf("replayed entry %d: skipped %v (%v)", j+1, res.Skipped, err)
				}
			}
		}
	}
	sameFiles(t, "once / replayed", walk(t, a.st), walk(t, b.st))
}

// A snapshot of the replicated state installed on another node, whose
// machine then reloads, gives that node the same engine: the rest of the
// log applied to both leaves the same files and the same page.
func TestSnapshotRestoreThenTheRestOfTheLog(t *testing.T) {
	dir := t.TempDir()
	a := newMachine(t, openStore(t, filepath.Join(dir, "a.db")))
	b := newMachine(t, openStore(t, filepath.Join(dir, "b.db")))
	list := script()
	half := 4
	for i, e := range list[:half] {
		e.Index = uint64(i + 1)
		if _, err := a.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	var snap bytes.Buffer
	if _, err := a.Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	if err := b.Restore(&snap); err != nil {
		t.Fatal(err)
	}
	if got := b.Take(); !got.Visible || !got.History {
		t.Fatalf("a reload asks for no publish: %+v", got)
	}
	for i, e := range list[half:] {
		e.Index = uint64(half + i + 1)
		for _, m := range []*Machine{a, b} {
			if _, err := m.Apply(e); err != nil {
				t.Fatal(err)
			}
		}
	}
	sameFiles(t, "applied / restored then applied", walk(t, a.st), walk(t, b.st))
	// Every /api/v2 body, drawn from each engine at one time.
	bodies := func(m *Machine) map[string][]byte {
		var out map[string][]byte
		m.Read(func(e *status.Engine) {
			var err error
			if out, err = statuspage.New(site, e.Snapshot(at(200), t0)).Bodies(); err != nil {
				t.Fatal(err)
			}
		})
		return out
	}
	ba, bb := bodies(a), bodies(b)
	if len(ba) == 0 || len(ba) != len(bb) {
		t.Fatalf("%d bodies / %d", len(ba), len(bb))
	}
	for name, body := range ba {
		if !bytes.Equal(body, bb[name]) {
			t.Errorf("%s differs:\n%s\n%s", name, body, bb[name])
		}
	}
}

// A writer that could not learn whether its entry committed sends it again
// under the same key (Inputs.Writer, Seq): every applier skips the second
// before the engine sees it, so its results are counted once.
func TestResentEntryCountsOnce(t *testing.T) {
	dir := t.TempDir()
	once := newMachine(t, openStore(t, filepath.Join(dir, "once.db")))
	twice := newMachine(t, openStore(t, filepath.Join(dir, "twice.db")))
	keyed := func(sec int, seq uint64) store.Entry {
		in := results(sec, "ams", "api-1=down")
		in.Writer, in.Seq = "ams/1a2b", seq
		return store.Entry{At: at(sec), Inputs: in}
	}
	var i, j uint64
	apply := func(m *Machine, idx *uint64, e store.Entry) store.Result {
		t.Helper()
		*idx++
		data, err := store.EncodeEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		res, err := m.ApplyEncoded(data, *idx, 0)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	apply(once, &i, keyed(1, 1))
	apply(twice, &j, keyed(1, 1))
	if res := apply(twice, &j, keyed(1, 1)); !res.Skipped { // the resend
		t.Fatalf("the resent entry was applied: %+v", res)
	}
	apply(once, &i, keyed(2, 2))
	apply(twice, &j, keyed(2, 2))
	a, b := walk(t, once.st), walk(t, twice.st)
	delete(a, "meta/applied_index")
	delete(b, "meta/applied_index")
	sameFiles(t, "sent once / sent twice", a, b)
	var st *status.CheckState
	twice.Read(func(e *status.Engine) { st = e.State().Checks["api-1"] })
	if st == nil || st.Status != status.CheckDown {
		t.Fatalf("api-1 after two failures counted once each: %+v", st)
	}
}
