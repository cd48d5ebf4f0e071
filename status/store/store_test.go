package store

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
)

var t0 = time.Date(2026, 3, 10, 13, 59, 0, 0, time.UTC)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "data", "outpost.db")
	s, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, p
}

func model() *status.Model {
	return &status.Model{AutoIncidents: true, ReopenWindow: 10 * time.Minute,
		Components: []status.ComponentDef{{ID: "api", Name: "API"}},
		Checks:     []status.CheckDef{{Name: "api-1", Component: "api", FailureThreshold: 2, SuccessThreshold: 1, Every: 30 * time.Second}}}
}

func result(check string, at time.Time, o probes.Outcome, lat time.Duration) status.CheckResult {
	r := probes.Result{Outcome: o, Reason: probes.ReasonOK, Latency: lat}
	if o == probes.Down {
		r.Reason, r.Message = probes.ReasonTimeout, "context deadline exceeded"
	}
	return status.CheckResult{Check: check, At: at, Result: r}
}

// drive applies steps through a real engine and the store, as the runtime does.
func drive(t *testing.T, s *Store, e *status.Engine, route Router, steps ...status.Batch) {
	t.Helper()
	for _, b := range steps {
		ch := e.Apply(b)
		if err := step(s, ch, e.State(), route, b.Now); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRestartResumesExactly(t *testing.T) {
	s, path := openTemp(t)
	e := status.NewEngine(model(), nil)
	var steps []status.Batch
	for i := range 4 {
		at := t0.Add(time.Duration(i) * 30 * time.Second)
		steps = append(steps, status.Batch{Now: at, Results: []status.CheckResult{result("api-1", at, probes.Down, 5*time.Second)}})
	}
	drive(t, s, e, nil, steps...)
	before, _ := json.Marshal(e.State())
	if len(e.State().Incidents) != 1 {
		t.Fatal("no incident opened")
	}
	s.Close()

	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	st, err := s2.LoadState(steps[3].Now, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := json.Marshal(st)
	if string(before) != string(after) {
		t.Fatalf("state after restart differs:\nbefore %s\nafter  %s", before, after)
	}
	// Counters continue: one more failure keeps the same incident, a
	// recovery resolves it with its timeline intact.
	e2 := status.NewEngine(model(), st)
	at := steps[3].Now.Add(30 * time.Second)
	drive(t, s2, e2, nil, status.Batch{Now: at, Results: []status.CheckResult{result("api-1", at, probes.Up, time.Millisecond)}})
	var id string
	for k := range st.Incidents {
		id = k
	}
	inc, err := s2.Incident(id)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Status != status.Resolved || len(inc.Updates) != 2 {
		t.Fatalf("incident after restart: %s with %d updates", inc.Status, len(inc.Updates))
	}
	if rs, _ := s2.Results("api-1", t0, at.Add(time.Second), 100); len(rs) != 5 || rs[0].Result.Message != "context deadline exceeded" || rs[4].Result.Outcome != probes.Up {
		t.Fatalf("raw results %+v", rs)
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	_, path := openTemp(t)
	start := time.Now()
	_, err := Open(path, Options{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v to fail", d)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	s, path := openTemp(t)
	_ = s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, be32(SchemaVersion+1)) })
	s.Close()
	if _, err := Open(path, Options{}); err == nil {
		t.Fatal("a file from a newer Outpost was opened")
	}
}

func TestRollups(t *testing.T) {
	s, _ := openTemp(t)
	ch := &status.Changes{
		Results: []status.CheckResult{
			result("api-1", t0, probes.Up, 3*time.Millisecond),
			result("api-1", t0.Add(time.Second), probes.Up, 5*time.Millisecond),
			result("api-1", t0.Add(2*time.Second), probes.Down, 900*time.Millisecond),
			result("api-1", t0.Add(time.Hour), probes.Degraded, 40*time.Millisecond),
		},
		// 13:59 → 14:09 in major outage: 1 minute in the 13:00 hour, 9 in the 14:00 hour.
		Segments: []status.Segment{{Component: "api", Status: status.MajorOutage, From: t0, To: t0.Add(10 * time.Minute)},
			{Component: "api", Status: status.Operational, From: t0.Add(10 * time.Minute), To: t0.Add(40 * time.Minute)}},
	}
	if err := step(s, ch, status.NewState(), nil, t0); err != nil {
		t.Fatal(err)
	}
	hours, _ := s.CheckRollups("api-1", false, t0.Add(-time.Hour), t0.Add(2*time.Hour))
	if len(hours) != 2 {
		t.Fatalf("%d hourly check roll-ups", len(hours))
	}
	h := hours[0]
	if h.Runs != 3 || h.Down != 1 || h.LatMin != 3000 || h.LatMax != 900000 || h.Avg() != 302666*time.Microsecond {
		t.Fatalf("hour roll-up %+v avg %v", h, h.Avg())
	}
	if h.P95() != 900*time.Millisecond {
		t.Errorf("p95 %v", h.P95())
	}
	if hours[1].Degraded != 1 || hours[1].Start != t0.Add(time.Hour).Truncate(time.Hour) {
		t.Errorf("second hour %+v", hours[1])
	}
	days, _ := s.CheckRollups("api-1", true, t0.Add(-48*time.Hour), t0.Add(48*time.Hour))
	if len(days) != 1 || days[0].Runs != 4 {
		t.Fatalf("daily %+v", days)
	}
	ch2, _ := s.ComponentRollups("api", false, t0.Add(-time.Hour), t0.Add(time.Hour))
	if len(ch2) != 2 || ch2[0].MS[statusIndex(status.MajorOutage)] != 60_000 || ch2[1].MS[statusIndex(status.MajorOutage)] != 540_000 {
		t.Fatalf("component hours %+v", ch2)
	}
	cd, _ := s.ComponentRollups("api", true, t0.Add(-48*time.Hour), t0.Add(48*time.Hour))
	if len(cd) != 1 || cd[0].Worst() != status.MajorOutage || cd[0].Uptime() != 0.75 {
		t.Fatalf("component day %+v uptime %v", cd, cd[0].Uptime())
	}
}

func TestOutboxTransitions(t *testing.T) {
	s, _ := openTemp(t)
	route := func(ev status.Event) []Dest {
		if ev.Type.OperatorsOnly() {
			return []Dest{{Name: "ops"}}
		}
		return []Dest{{Name: "ops"}, {Name: "mastodon"}}
	}
	e := status.NewEngine(model(), nil)
	drive(t, s, e, route,
		status.Batch{Now: t0, Results: []status.CheckResult{result("api-1", t0, probes.Down, 0)}},
		status.Batch{Now: t0.Add(time.Second), Results: []status.CheckResult{result("api-1", t0.Add(time.Second), probes.Down, 0)}})
	rows, err := s.Unfinished(100)
	if err != nil || len(rows) != 2 {
		t.Fatalf("unfinished %d rows (%v), want component change + incident", len(rows), err)
	}
	inc := rows[1]
	if inc.Event.Type != status.IncidentCreated || inc.Deliveries["mastodon"].State != Pending {
		t.Fatalf("row %+v", inc)
	}
	now := t0.Add(2 * time.Second)
	mark := func(seq uint64, dest string, m Mark) {
		m.Seq, m.Dest = seq, dest
		mustApply(t, s, Entry{At: now, Marks: []Mark{m}})
	}
	mark(inc.Seq, "mastodon", Mark{To: Sending})
	if r, _ := s.OutboxRow(inc.Seq); r.Deliveries["mastodon"].State != Sending || r.Deliveries["mastodon"].Attempts != 1 {
		t.Fatalf("after mark sending %+v", r.Deliveries["mastodon"])
	}
	mark(inc.Seq, "mastodon", Mark{To: Sent, RemoteID: "109"})
	mark(inc.Seq, "ops", Mark{To: Failed, Error: "410 Gone"})
	depth, _ := s.OutboxDepth()
	if depth["ops"].Pending != 1 || depth["mastodon"].Pending != 1 || !depth["ops"].Oldest.Equal(t0.Add(time.Second)) {
		t.Fatalf("depth %+v", depth)
	}
	if rows, _ = s.Unfinished(100); len(rows) != 1 || rows[0].Seq == inc.Seq {
		t.Fatalf("a finished row is still open: %+v", rows)
	}
	if _, err := s.Apply(Entry{At: now, Marks: []Mark{{Seq: inc.Seq, Dest: "nope", To: Sent}}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown destination: %v", err)
	}
}

func TestPruneIncrementally(t *testing.T) {
	s, _ := openTemp(t)
	var rs []status.CheckResult
	for i := range 100 {
		rs = append(rs, result("api-1", t0.Add(time.Duration(i)*time.Minute), probes.Up, time.Millisecond))
	}
	if err := step(s, &status.Changes{Results: rs}, status.NewState(), nil, t0); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(48*time.Hour + 60*time.Minute) // the first 60 results are past 48h
	prune := func() (int, bool, error) {
		res, err := s.Apply(Entry{At: now, Prune: &Prune{RawRetention: 48 * time.Hour, Budget: 25}})
		return res.Deleted, res.More, err
	}
	n, more, err := prune()
	if err != nil || n != 25 || !more {
		t.Fatalf("first prune: %d more=%v %v", n, more, err)
	}
	total := n
	for more {
		n, more, err = prune()
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != 60 {
		t.Fatalf("pruned %d, want 60", total)
	}
	left, _ := s.Results("api-1", t0, now, 1000)
	if len(left) != 40 || !left[0].At.Equal(t0.Add(60*time.Minute)) {
		t.Fatalf("%d left, first %v", len(left), left[0].At)
	}
	if days, _ := s.CheckRollups("api-1", true, t0.Add(-24*time.Hour), now); len(days) == 0 || days[0].Runs != 100 {
		t.Fatalf("roll-ups must outlive raw results: %+v", days)
	}
}

func TestBackup(t *testing.T) {
	s, _ := openTemp(t)
	e := status.NewEngine(model(), nil)
	drive(t, s, e, nil, status.Batch{Now: t0, Results: []status.CheckResult{result("api-1", t0, probes.Down, 0), result("api-1", t0.Add(time.Second), probes.Down, 0)}})
	p := filepath.Join(t.TempDir(), "backup.db")
	f, _ := os.Create(p)
	n, err := s.Backup(f)
	f.Close()
	if err != nil || n == 0 {
		t.Fatalf("backup: %d %v", n, err)
	}
	b, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st, _ := b.LoadState(t0, time.Hour)
	if len(st.Incidents) != 1 || st.Checks["api-1"].Status != status.CheckDown {
		t.Fatalf("backup lacks state: %+v", st)
	}
	if errs := b.Check(); len(errs) != 0 {
		t.Fatalf("backup is inconsistent: %v", errs)
	}
}

func TestResultEncoding(t *testing.T) {
	for _, r := range []probes.Result{
		{Outcome: probes.Up, Reason: probes.ReasonOK, Latency: 1234 * time.Microsecond},
		{Outcome: probes.Down, Reason: probes.ReasonTLSError, Latency: 3 * time.Second, Message: "x509: expired"},
		{Outcome: probes.Degraded, Reason: probes.ReasonSlow, Latency: 0},
		{Outcome: probes.Degraded, Reason: probes.ReasonPacketLoss, Latency: time.Millisecond, Message: "34% lost"},
		{Outcome: probes.Down, Reason: probes.ReasonBodyTooLarge, Latency: time.Second, Message: "more than 1 MiB"},
	} {
		b := encodeResult(r)
		got, err := decodeResult(b)
		if err != nil || got.Outcome != r.Outcome || got.Reason != r.Reason || got.Latency != r.Latency || got.Message != r.Message {
			t.Errorf("round trip %+v → %+v (%v)", r, got, err)
		}
	}
	if up := encodeResult(probes.Result{Outcome: probes.Up, Reason: probes.ReasonOK, Latency: 2 * time.Millisecond, Message: "ignored"}); len(up) != 4 {
		t.Errorf("an up result takes %d bytes, want 4", len(up))
	}
	if _, err := decodeResult([]byte{1}); err == nil {
		t.Error("corrupt record decoded")
	}
	// Codes are stored: the ones files already hold never move, and a
	// reason this version does not know is stored as internal_error.
	for code, r := range map[byte]probes.Reason{0: probes.ReasonOK, 11: probes.ReasonBannerMismatch, 16: probes.ReasonInternal, 17: probes.ReasonPacketLoss,
		22: probes.ReasonBodyTooLarge} {
		if got := reasonCode(r); got != code {
			t.Errorf("%s is stored as %d, files hold %d", r, got, code)
		}
	}
	if got := reasonCode("from_the_future"); got != 16 {
		t.Errorf("an unknown reason is stored as %d", got)
	}
}

// The start index answers a history page with the incidents of its months
// only; a file written before the index (schema 1) gets it when opened.
func TestIncidentsStartedIndex(t *testing.T) {
	s, path := openTemp(t)
	e := status.NewEngine(model(), nil)
	at := t0
	for i := range 20 { // ten incidents, one a day
		o := probes.Down
		if i%2 == 1 {
			o = probes.Up
		}
		at = at.Add(12 * time.Hour)
		drive(t, s, e, nil, status.Batch{Now: at, Results: []status.CheckResult{result("api-1", at, o, 0), result("api-1", at, o, 0)}})
	}
	check := func(s *Store) {
		t.Helper()
		got, err := s.IncidentsStarted(t0.Add(48*time.Hour), t0.Add(96*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || !got[0].StartedAt.After(got[1].StartedAt) {
			t.Fatalf("incidents in two days: %d, want 2 newest first", len(got))
		}
		for _, inc := range got {
			if inc.StartedAt.Before(t0.Add(48*time.Hour)) || !inc.StartedAt.Before(t0.Add(96*time.Hour)) {
				t.Errorf("incident started %s is outside the range", inc.StartedAt)
			}
		}
		if ok, _ := s.AnyStartedBefore(t0.Add(48 * time.Hour)); !ok {
			t.Error("earlier incidents not seen")
		}
		if ok, _ := s.AnyStartedBefore(t0); ok {
			t.Error("an incident before the first one")
		}
	}
	check(s)
	// Back to schema 1 without the index, as an older Outpost left it.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketIncidentStart); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketIncidentStart); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, be32(1))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	check(s2)
}
