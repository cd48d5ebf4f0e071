package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/capability"
	bolt "go.etcd.io/bbolt"
)

// Helpers that write through the one way in, as the packages above do.

func mustApply(t testing.TB, s *Store, e Entry) Result {
	t.Helper()
	res, err := s.Apply(e)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// announce adds one announcement and returns its outbox sequence.
func announce(t testing.TB, s *Store, ev status.Event, dests []Dest, now time.Time) uint64 {
	t.Helper()
	return mustApply(t, s, Entry{At: now, Announce: []Announcement{{Event: ev, Dests: dests}}}).Seqs[0]
}

// expand fans out due rows as the webhook service does.
func expand(s *Store, limit int, fan func(status.Event, []Subscription) ([]byte, []string, error), now time.Time) (rows, created int, err error) {
	due, subs, err := s.DueForFanout(WebhooksDest, limit, now)
	if err != nil || len(due) == 0 {
		return 0, 0, err
	}
	var list []FannedRow
	for _, r := range due {
		body, to, err := fan(r.Event, subs)
		f := FannedRow{Seq: r.Seq, Body: body, Subs: to}
		if err != nil {
			f = FannedRow{Seq: r.Seq, Error: err.Error()}
		}
		list = append(list, f)
	}
	res, err := s.Apply(Entry{At: now, Fanout: list})
	return res.Rows, res.Created, err
}

// step applies an engine step.
func step(s *Store, ch *status.Changes, st *status.State, route Router, now time.Time) error {
	_, err := s.Apply(Entry{At: now, Step: NewStep(ch, st, route)})
	return err
}

func subscribe(s *Store, sub Subscription, verify WebhookDelivery, perClient int) error {
	_, err := s.Apply(Entry{At: t0, Subscribe: &NewSubscription{Sub: sub, Verify: verify, PerClient: perClient}})
	return err
}

// script is a run of entries using every part of Entry, in an order a
// node could see them.
func script() []Entry {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	inc := &status.Incident{ID: "inc-1", Seq: 7, Name: "API down", Status: status.Investigating, StartedAt: at(1), Components: []string{"api"}}
	ev := status.Event{ID: "evt-1", Seq: 8, Type: status.IncidentCreated, At: at(1), Incident: inc, Data: []byte(`{"page":{}}`)}
	st := status.NewState()
	st.Seq, st.WatchingSince = 8, at(0)
	st.Checks["api-1"] = &status.CheckState{Status: status.CheckDown, Since: at(1)}
	st.Components["api"] = &status.ComponentState{Status: status.MajorOutage, Since: at(1)}
	shot := probes.Result{Outcome: probes.Down, Reason: probes.ReasonTimeout, Latency: 5 * time.Second, Message: "timeout", Screenshot: []byte("\x89PNG")}
	ch := &status.Changes{Checks: []string{"api-1"}, Components: []string{"api"}, Incidents: []*status.Incident{inc}, Events: []status.Event{ev},
		Results:  []status.CheckResult{{Check: "api-1", At: at(1), Result: shot}, result("api-1", at(1), probes.Down, time.Second)},
		Segments: []status.Segment{{Component: "api", Status: status.MajorOutage, From: at(0), To: at(1)}},
		Audit:    []status.AuditEntry{{At: at(1), Actor: "oncall", Action: "open_incident", Target: "inc-1"}}}
	route := func(status.Event) []Dest {
		return []Dest{{Name: "mastodon"}, {Name: "x", Hold: true}, {Name: "gone"}, {Name: WebhooksDest, Delay: time.Minute}, {Name: EmailDest}}
	}
	// Kind said, as an entry's writer must: Subscription reads a missing
	// kind as webhook (rows older than kinds), so an entry without it does
	// not come back from the codec as it went in.
	sub := Subscription{ID: "sub_a", Kind: KindWebhook, URL: "https://hooks.example.com/a", State: SubPending, Secrets: []Secret{{Value: "whsec_1"}},
		TokenHash: HashToken("ust_1"), Client: "203.0.113.1", Challenge: "c1", CreatedAt: at(0), StateAt: at(0)}
	verify := WebhookDelivery{MessageID: "msg_verify_sub_a", Type: VerifyType, Body: []byte(`{"challenge":"c1"}`), State: Pending, NextAt: at(0), CreatedAt: at(0)}
	policy := WebhookPolicy{Schedule: []time.Duration{time.Minute}, VerifySchedule: []time.Duration{time.Minute}, DisableAfter: time.Hour,
		EmailSchedule: []time.Duration{time.Minute}, DisableAfterPermanent: 3}
	k1 := capability.First(bytes.Repeat([]byte{7}, 32), at(5))
	siteKey, err := SiteKeySettings(k1)
	if err != nil {
		panic(err)
	}
	// a routine rotation, then one for a leaked key that cuts k1 and k2
	k2, r2, _ := capability.Rotate(capability.Keys{k1}, bytes.Repeat([]byte{8}, 32), at(6), capability.Grace)
	routine, _ := SiteKeySettings(k2, r2...)
	k3, r3, _ := capability.Rotate(capability.Keys{r2[0], k2}, bytes.Repeat([]byte{9}, 32), at(7), 0)
	leaked, err := SiteKeySettings(k3, r3...)
	if err != nil {
		panic(err)
	}
	mail := func(id, tok string) Subscription {
		return Subscription{ID: id, Kind: KindEmail, Address: id + "@example.com", ConfirmHash: HashToken(tok), ConfirmUntil: at(60),
			Client: "203.0.113.2", CreatedAt: at(5), StateAt: at(5)}
	}
	again := func(tok string) *NewSubscription { // em_never's address asks again
		s := mail("em_again", tok)
		s.Address = "em_never@example.com"
		return &NewSubscription{Sub: s}
	}
	entries := []Entry{
		{At: at(0), Subscribe: &NewSubscription{Sub: sub, Verify: verify, PerClient: 5}},
		// the challenge's delivery is seq 1: answered with its echo
		{At: at(0), Outcomes: &WebhookOutcomes{Policy: policy, List: []WebhookOutcome{{Seq: 1, At: at(0), Status: 200, LatencyMS: 12.5, Echo: "c1"}}}},
		// The step and the inputs it came from: the log carries the
		// inputs; the step is the engine's (status/machine), filled in
		// by the applier, never encoded.
		{At: at(0), Model: "f1"},
		{At: at(1), Inputs: stamped(NewInputs(ch.Results, []status.Command{{Kind: status.CreateIncident, Name: "API down", Author: "oncall"}}, "ams", "eu-west"), "f1"),
			Step: NewStep(ch, st, route)},
		// results applied as a member on codec 2 applies them: into the
		// series, beside the open hour the step above opened
		{At: at(1), Codec: 2, Step: NewStep(&status.Changes{Results: []status.CheckResult{result("api-1", at(1), probes.Up, time.Millisecond),
			result("api-1", t0.Add(-time.Hour), probes.Up, time.Millisecond)}}, st, nil)},
		{At: at(1), Term: 2, Marks: []Mark{{Seq: 1, Dest: "mastodon", To: Sending, Term: 2}}}, // a claim of the leader of term 2
		{At: at(1), Marks: []Mark{{Seq: 1, Dest: "mastodon", To: Sent, RemoteID: "109", Thread: "inc-1"}}},
		{At: at(2), Decide: &Decision{Seq: 1, Release: true, Actor: "oncall"}},
		{At: at(2), KeepDests: &[]string{"mastodon", "x", WebhooksDest, EmailDest}},
		{At: at(2), Fanout: []FannedRow{{Seq: 1, Body: []byte(`{"type":"incident.created"}`), Subs: []string{"sub_a", "sub_gone"}}}},
		{At: at(3), Outcomes: &WebhookOutcomes{Policy: policy, List: []WebhookOutcome{{Seq: 2, At: at(3), Status: 503, Error: "receiver: 503"}}}},
		// Outpost's own failure (the site key unreadable): retried, not held against sub_a
		{At: at(3), Outcomes: &WebhookOutcomes{Policy: policy, List: []WebhookOutcome{{Seq: 2, At: at(3), Error: "no site key", Unsent: true}}}},
		{At: at(3), Ping: &WebhookDelivery{Sub: "sub_a", MessageID: "msg_ping", Type: PingType, Body: []byte(`{}`), State: Pending, NextAt: at(3), CreatedAt: at(3)}},
		{At: at(4), Subscription: &SubscriptionChange{ID: "sub_a", Secret: "whsec_2", Until: at(60)},
			Audit: []status.AuditEntry{{At: at(4), Actor: "oncall", Action: "rotate_secret", Target: "sub_a"}}},
		{At: at(4), Subscription: &SubscriptionChange{ID: "sub_a", State: SubPaused, From: []SubState{SubActive}}},
		{At: at(4), Announce: []Announcement{{Event: status.Event{ID: "peer-1", Type: status.MonitorPeerDown, At: at(4), Text: "peer down"}, Dests: []Dest{{Name: "ops"}}}}},
		{At: at(5), Settings: []Setting{{Key: "bluesky/status.example.com/refresh", Value: "r1"}}},
		// the site key, drawn outside apply and created only once
		{At: at(5), Settings: siteKey},
		{At: at(6), Settings: routine},
		{At: at(7), Settings: leaked},
		{At: at(5), Marks: []Mark{{Seq: 2, Dest: "ops", To: Failed, Error: "410 Gone"}}},
		{At: at(5), Subscribe: &NewSubscription{Sub: mail("em_a", "ect_1")}},
		{At: at(5), Subscribe: &NewSubscription{Sub: mail("em_never", "ect_2")}},
		// its 2nd and 3rd confirmation mails, then a 4th refused (Limited)
		{At: at(6), Subscribe: again("ect_3")},
		{At: at(6), Subscribe: again("ect_4")},
		{At: at(7), Subscribe: again("ect_5")},
		{At: at(6), Confirm: &Confirmation{TokenHash: HashToken("ect_1")}},
		{At: at(6), Preferences: &Preferences{ID: "em_a", Components: []string{"api"}, Maintenance: true}},
		// the email destination's fan-out: delivery seq 4 to em_a, retried
		{At: at(6), Fanout: []FannedRow{{Seq: 1, Dest: EmailDest, Subs: []string{"em_a", "em_never"}}}},
		{At: at(7), Outcomes: &WebhookOutcomes{Policy: policy, List: []WebhookOutcome{{Seq: 4, At: at(7), Status: 451, Error: "451 try later"}}}},
		// paused, em_a's waiting mail is cancelled; em_never is erased
		{At: at(8), Subscription: &SubscriptionChange{ID: "em_a", State: SubPaused, From: []SubState{SubActive}}},
		{At: at(8), Subscription: &SubscriptionChange{ID: "em_never", Erase: true}},
		{At: at(48*60 + 5), Prune: &Prune{RawRetention: 48 * time.Hour, Budget: 100}},
		{At: at(48*60 + 5), PruneWebhooks: &PruneWebhooks{Cutoff: at(1), Limit: 100, Unconfirmed: at(48 * 60)}},
	}
	for i := range entries { // as a replicated log numbers them
		entries[i].Index = uint64(i + 1)
	}
	return entries
}

// dump is every key and value of the file, bucket by bucket.
func dump(t *testing.T, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(prefix string, b *bolt.Bucket) error
	walk = func(prefix string, b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(prefix+string(k)+"/", b.Bucket(k))
			}
			out[prefix+string(k)] = string(v)
			return nil
		})
	}
	if err := s.view(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(string(name)+"/", b) })
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// Entries are plain data and applying them is deterministic: the script
// applied as built, and applied after a round trip through the entry
// codec (as a replicated log carries it) to another file, leaves the two
// files with the same keys and values. The script uses every part of
// Entry, so a new part that is not serialisable or reads a clock fails
// here.
func TestEntriesAreDataAndApplyDeterministically(t *testing.T) {
	used := map[string]bool{}
	for _, e := range script() {
		v := reflect.ValueOf(e)
		for i := range v.NumField() {
			if !v.Field(i).IsZero() {
				used[v.Type().Field(i).Name] = true
			}
		}
	}
	for f := range reflect.TypeFor[Entry]().Fields() {
		if !used[f.Name] {
			t.Errorf("the script never uses Entry.%s", f.Name)
		}
	}
	a, _ := openTemp(t)
	b, _ := openTemp(t)
	for i, e := range script() {
		ra, errA := a.Apply(e)
		v := CodecVersion
		if e.Codec != 0 {
			v = e.Codec // stamped as a cluster's writer stamps it
		}
		data, err := EncodeEntryAt(e, v)
		if err != nil {
			t.Fatalf("entry %d does not encode: %v", i, err)
		}
		back, err := DecodeEntry(data)
		if err != nil {
			t.Fatalf("entry %d does not decode: %v", i, err)
		}
		back.Step, back.Term = e.Step, e.Term // the applier's own: the engine's step over the inputs, the log's term
		rb, errB := b.Apply(back)
		if errA != nil || errB != nil {
			t.Fatalf("entry %d: %v / %v", i, errA, errB)
		}
		if !reflect.DeepEqual(ra.Seqs, rb.Seqs) || ra.Changed != rb.Changed || ra.Created != rb.Created || ra.Deleted != rb.Deleted {
			t.Errorf("entry %d: results differ: %+v / %+v", i, ra, rb)
		}
	}
	// Every bucket of the replicated file, key by key (a bucket missing
	// from the list fails), and the local copies of the results the
	// entries carried.
	sameFile(t, a, b)
	sameLocal(t, a, b)
	// The script did what it says: the subscription is verified, then
	// paused; the fan-out made one delivery (sub_gone does not exist).
	sub, err := a.Subscription("sub_a")
	if err != nil || sub.State != SubPaused || sub.VerifiedAt.IsZero() || len(sub.Secrets) != 2 {
		t.Errorf("sub_a = %+v (%v)", sub, err)
	}
	// em_a confirmed, took the incident's mail (retrying), then paused,
	// which cancelled it; em_never, never confirmed, was erased.
	if em, err := a.Subscription("em_a"); err != nil || em.State != SubPaused || !em.Maintenance {
		t.Errorf("em_a = %+v (%v)", em, err)
	}
	if _, err := a.Subscription("em_never"); !errors.Is(err, ErrNotFound) {
		t.Errorf("em_never: %v, want forgotten", err)
	}
	if log, _ := a.WebhookLog("em_a", 5); len(log) != 1 || log[0].State != Cancelled || len(log[0].Attempts) != 2 {
		t.Errorf("em_a's deliveries: %+v", log)
	}
	if thread, err := a.Thread("inc-1", "mastodon"); err != nil || thread != "109" {
		t.Errorf("thread = %q (%v)", thread, err)
	}
	keys, err := b.SiteKeys()
	if cur, ok := keys.Current(); err != nil || len(keys) != 3 || !ok || cur.ID != "k3" ||
		keys[0].ID != "k1" || keys[0].Secret[0] != 7 || !keys[0].Until.Equal(t0.Add(7*time.Minute)) || !keys[1].Until.Equal(keys[0].Until) {
		t.Errorf("site keys after a codec round trip = %+v (%v)", keys, err)
	}
}

// An entry is all or nothing: a part that fails undoes the parts before
// it in the same entry.
func TestEntryIsAllOrNothing(t *testing.T) {
	s, _ := openTemp(t)
	before := dump(t, s)
	_, err := s.Apply(Entry{At: t0,
		Announce: []Announcement{{Event: status.Event{ID: "evt-1"}, Dests: []Dest{{Name: "ops"}}}},
		Settings: []Setting{{Key: "k", Value: "v"}},
		Decide:   &Decision{Seq: 99, Release: true, Actor: "oncall"}, // no such row
		Audit:    []status.AuditEntry{{At: t0, Actor: "oncall", Action: "release_announcement"}}})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if after := dump(t, s); !reflect.DeepEqual(before, after) {
		t.Fatalf("a failed entry left changes: %d keys before, %d after", len(before), len(after))
	}
	if _, err := s.Apply(Entry{Settings: []Setting{{Key: "k", Value: "v"}}}); err == nil {
		t.Fatal("an entry without a time was applied: apply must not read a clock")
	}
	// An entry naming a state the file does not know is refused, whole:
	// a replicated log must not carry garbage into every node's file.
	seq := announce(t, s, status.Event{ID: "evt-2"}, []Dest{{Name: "ops"}}, t0)
	if _, err := s.Apply(Entry{At: t0, Marks: []Mark{{Seq: seq, Dest: "ops", To: Sent}, {Seq: seq, Dest: "ops", To: "delivered"}}}); err == nil {
		t.Fatal("a mark to an unknown state was applied")
	}
	mustApply(t, s, Entry{At: t0, Subscribe: &NewSubscription{Sub: Subscription{ID: "sub_a", State: SubActive, Client: "c"}, Verify: WebhookDelivery{State: Sent}}})
	if _, err := s.Apply(Entry{At: t0, Subscription: &SubscriptionChange{ID: "sub_a", State: "on", From: []SubState{SubActive}}}); err == nil {
		t.Fatal("a subscription moved to an unknown state")
	}
	if sub, _ := s.Subscription("sub_a"); sub.State != SubActive {
		t.Fatalf("sub_a is %s", sub.State)
	}
	if row, _ := s.OutboxRow(seq); row.Deliveries["ops"].State != Pending {
		t.Fatalf("the refused entry's first mark stayed: %+v", row.Deliveries["ops"])
	}
}

// The one way in: inside the store, only Apply (and opening the file)
// starts a write transaction on the replicated file, so every durable
// change to replicated state is an Entry. The local file has its own
// short list of writers: the local part of an applied entry, the node's
// own screenshots and settings, and opening it.
func TestOnlyApplyWrites(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	// Per file, the functions that may write it. openReplicated creates
	// the buckets and migrates; MarkBackup writes into a copy of the file
	// (a backup), never the one in use; scrub (Apply's, after an erasure,
	// or at Open for an owed one) overwrites free pages and deletes only
	// the owed mark; splitLocal moves a schema-3 file's node-local data
	// (at Open, and drops a restored snapshot's). update and onLocal are
	// the transactions themselves.
	writers := map[string]map[string]bool{
		"replicated": {"Apply": true, "openReplicated": true, "MarkBackup": true, "scrub": true, "splitLocal": true, "update": true},
		"local":      {"applyLocal": true, "PutScreenshot": true, "SetLocalSetting": true, "openLocal": true, "splitLocal": true, "updateLocal": true, "onLocal": true},
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				file, what := writes(fn.Name.Name, n)
				if file != "" && !writers[file][fn.Name.Name] {
					t.Errorf("%s: %s writes the %s file (%s) outside its writers", fset.Position(n.Pos()), fn.Name.Name, file, what)
				}
				return true
			})
		}
	}
}

// writes says which file n, in the function fn, opens a write
// transaction on, if any: a call of update, Update or Batch the replicated
// file (bbolt's own Update in onLocal is the local one's), of updateLocal
// or onLocal(…, true, …) the local file.
func writes(fn string, n ast.Node) (file, what string) {
	switch n := n.(type) {
	case *ast.SelectorExpr:
		if x, ok := n.X.(*ast.Ident); ok && x.Name == "status" {
			return "", "" // status.Batch is the engine's type, not bbolt's Batch
		}
		switch n.Sel.Name {
		case "update", "Update", "Batch":
			if fn == "onLocal" {
				return "local", n.Sel.Name
			}
			return "replicated", n.Sel.Name
		case "updateLocal":
			return "local", n.Sel.Name
		}
	case *ast.CallExpr:
		if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "onLocal" && len(n.Args) == 4 {
			if w, ok := n.Args[2].(*ast.Ident); !ok || w.Name != "false" {
				return "local", "onLocal"
			}
		}
	}
	return "", ""
}

// The delivery loop re-reads every subscription when SubscriptionsVersion
// moves, so an outcome that leaves every subscription's state alone must
// not move it (at 1,000 subscribers each commit would re-read them all);
// one that verifies a subscription must.
func TestOutcomesMoveTheSubscriptionsVersionOnlyOnAStateChange(t *testing.T) {
	s, _ := openTemp(t)
	e := script()
	mustApply(t, s, e[0]) // subscribe: pending, challenge is delivery 1
	policy := WebhookPolicy{Schedule: []time.Duration{time.Minute}, VerifySchedule: []time.Duration{time.Minute, time.Minute}, DisableAfter: time.Hour}
	v := s.SubscriptionsVersion()
	mustApply(t, s, Entry{At: t0, Outcomes: &WebhookOutcomes{Policy: policy, List: []WebhookOutcome{{Seq: 1, At: t0, Status: 503, Error: "503"}}}})
	if s.SubscriptionsVersion() != v {
		t.Fatal("a retry moved the subscriptions' version")
	}
	mustApply(t, s, Entry{At: t0, Outcomes: &WebhookOutcomes{Policy: policy, List: []WebhookOutcome{{Seq: 1, At: t0, Status: 200, Echo: "c1"}}}})
	if s.SubscriptionsVersion() == v {
		t.Fatal("verifying a subscription did not move the subscriptions' version")
	}
}

// Entries from a replicated log apply exactly once: replayed over a file
// that already holds them (a restart, a restore), they change nothing;
// the local log (Index 0) applies every entry.
func TestReplicatedEntriesApplyOnce(t *testing.T) {
	s, _ := openTemp(t)
	ann := func(id string, index uint64) Entry {
		return Entry{At: t0, Index: index, Announce: []Announcement{{Event: status.Event{ID: id}, Dests: []Dest{{Name: "ops"}}}}}
	}
	mustApply(t, s, ann("evt-1", 1))
	mustApply(t, s, ann("evt-2", 2))
	before := dump(t, s)
	for _, index := range []uint64{1, 2} { // the log replayed
		if res := mustApply(t, s, ann("evt-replayed", index)); !res.Skipped || len(res.Seqs) != 0 {
			t.Fatalf("entry %d applied again: %+v", index, res)
		}
	}
	if after := dump(t, s); !reflect.DeepEqual(before, after) {
		t.Fatal("a replayed entry changed the file")
	}
	if n, err := s.AppliedIndex(); err != nil || n != 2 {
		t.Fatalf("applied index %d (%v), want 2", n, err)
	}
	if res := mustApply(t, s, ann("evt-3", 3)); res.Skipped || len(res.Seqs) != 1 {
		t.Fatalf("the next entry: %+v", res)
	}
	mustApply(t, s, ann("evt-local", 0))
	mustApply(t, s, ann("evt-local", 0))
	if rows, err := s.Unfinished(10); err != nil || len(rows) != 5 {
		t.Fatalf("%d rows (%v), want 5: evt-1, evt-2, evt-3 and two local", len(rows), err)
	}
}

// Work is signalled by the entries that give the delivery loops something
// to do (announcements made or released, a subscription created, changed
// or pinged) and by no others, whoever applied them.
func TestWorkSignalsNewDeliveryWork(t *testing.T) {
	s, _ := openTemp(t)
	entries := script()
	// One per script entry: Subscribe, Outcomes, Model, Step (announcing),
	// Step (codec 2, results only), Marks, Marks, Decide, KeepDests, Fanout, Outcomes, Outcomes (unsent), Ping,
	// Subscription, Subscription, Announce, Settings, Settings (site key),
	// Settings and Settings (its rotations), Marks, Subscribe (email),
	// Subscribe (email), three more Subscribe (email, the last refused),
	// Confirm, Preferences, Fanout (email), Outcomes, Subscription (pause),
	// Subscription (erase), Prune, PruneWebhooks.
	want := []bool{true, false, false, true, false, false, false, true, false, false, false, false, true, true, true, true, false, false, false, false, false,
		true, true, true, true, true, false, false, false, false, true, true, false, false}
	if len(want) != len(entries) {
		t.Fatalf("the script has %d entries, the table %d: say whether the new one signals", len(entries), len(want))
	}
	for i, e := range entries {
		mustApply(t, s, e)
		got := false
		select {
		case <-s.Work():
			got = true
		default:
		}
		if got != want[i] {
			t.Errorf("entry %d (%s): Work signalled %v, want %v", i, parts(e), got, want[i])
		}
	}
}

// parts names an entry's parts, for messages.
func parts(e Entry) string {
	b, _ := json.Marshal(e)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	delete(m, "at")
	delete(m, "index")
	return strings.Join(slices.Sorted(maps.Keys(m)), "+")
}

// stamped is inputs written under the model with fingerprint f.
func stamped(in *Inputs, f string) *Inputs {
	in.Model, in.Writer, in.Seq = f, "ams/1a2b", 1
	return in
}
