package store

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
)

// bucketDump is every key and value of the file by top-level bucket (keys
// of sub-buckets joined with "/"), with each bucket's sequence, which an
// undone entry must also leave as it was.
func bucketDump(t *testing.T, s *Store) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	var walk func(m map[string]string, prefix string, b *bolt.Bucket) error
	walk = func(m map[string]string, prefix string, b *bolt.Bucket) error {
		m[prefix+"#sequence"] = fmt.Sprint(b.Sequence())
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(m, prefix+string(k)+"/", b.Bucket(k))
			}
			m[prefix+string(k)] = string(v)
			return nil
		})
	}
	if err := s.view(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			out[string(name)] = map[string]string{}
			return walk(out[string(name)], "", b)
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameReplicated compares every bucket in the store's list except the
// refusal record and the applied index; a bucket in the file that the
// list leaves out, or one missing from either file, fails.
func sameReplicated(t *testing.T, a, b *Store) {
	t.Helper()
	da, db := bucketDump(t, a), bucketDump(t, b)
	listed := map[string]bool{}
	for _, name := range buckets() {
		listed[string(name)] = true
	}
	for name := range maps.Keys(da) {
		if !listed[name] {
			t.Errorf("bucket %s is in the file but not in buckets(): it is compared nowhere", name)
		}
	}
	for _, name := range buckets() {
		if string(name) == string(bucketRefusals) {
			continue
		}
		ka, okA := da[string(name)]
		kb, okB := db[string(name)]
		if !okA || !okB {
			t.Errorf("bucket %s missing (%v / %v)", name, okA, okB)
			continue
		}
		if string(name) == string(bucketMeta) {
			delete(ka, string(keyApplied))
			delete(kb, string(keyApplied))
		}
		for k, v := range ka {
			if kb[k] != v {
				t.Errorf("%s/%s: %q / %q", name, k, v, kb[k])
			}
		}
		for k := range kb {
			if _, ok := ka[k]; !ok {
				t.Errorf("%s/%s: only in the store that never saw the refused entries", name, k)
			}
		}
	}
}

// stale is an entry from a writer that had not seen the entries before it
// (or a malformed one): every applier refuses it, in part, as want.
type stale struct {
	name string
	e    Entry
	part string
	want error // the sentinel errors.Is still finds; nil: none
}

// Two writers: a stale writer's entries, applied with increasing indexes
// between a current writer's, are refused and recorded, the applied index
// moves past each, and the replicated state is byte for byte that of a
// store that never saw them.
func TestStaleWriterRefusedAndRecorded(t *testing.T) {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	audit := []status.AuditEntry{{At: at(30), Actor: "stale", Action: "stale_write"}}
	hook := func(id, client string) Subscription {
		return Subscription{ID: id, URL: "https://hooks.example.com/" + id, State: SubActive, Client: client, CreatedAt: t0, StateAt: t0}
	}
	current := []Entry{
		{At: at(0), Announce: []Announcement{{Event: status.Event{ID: "evt-1"}, Dests: []Dest{{Name: "x", Hold: true}}}}},
		{At: at(1), Decide: &Decision{Seq: 1, Release: true, Actor: "oncall"}},
		{At: at(1), Settings: []Setting{{Key: "site/key", Value: "k1", Create: true}}},
		{At: at(2), Subscribe: &NewSubscription{Sub: emailSub("em_a", "a@example.com", "t-a", nil, false)}},
		{At: at(2), Subscribe: &NewSubscription{Sub: emailSub("em_b", "b@example.com", "t-b", nil, false)}},
		{At: at(3), Confirm: &Confirmation{TokenHash: HashToken("t-b")}},
		{At: at(3), Subscribe: &NewSubscription{Sub: hook("sub_a", "203.0.113.1"), PerClient: 1}},
		{At: at(4), Model: "f-leader"},
	}
	noAddress := emailSub("em_c", "", "t-c", nil, false)
	refused := []stale{
		{"decided already", Entry{At: at(30), Decide: &Decision{Seq: 1, Actor: "stale"}}, "decide", ErrNotWaiting},
		{"no such announcement", Entry{At: at(30), Decide: &Decision{Seq: 99, Actor: "stale"}}, "decide", ErrNotFound},
		{"expired link", Entry{At: at(25 * 60), Confirm: &Confirmation{TokenHash: HashToken("t-a")}}, "confirm", ErrTokenExpired},
		{"confirmed already", Entry{At: at(30), Confirm: &Confirmation{TokenHash: HashToken("t-b")}}, "confirm", ErrSubState},
		{"unknown link", Entry{At: at(30), Confirm: &Confirmation{TokenHash: HashToken("t-x")}}, "confirm", ErrNotFound},
		{"create-only setting twice", Entry{At: at(30), Settings: []Setting{{Key: "other", Value: "o"}, {Key: "site/key", Value: "k2", Create: true}}},
			"settings", ErrSettingExists},
		{"mark on no row", Entry{At: at(30), Marks: []Mark{{Seq: 99, Dest: "x", To: Sending}}}, "marks", ErrNotFound},
		{"mark on no destination", Entry{At: at(30), Marks: []Mark{{Seq: 1, Dest: "x", To: Sent}, {Seq: 1, Dest: "gone", To: Sent}}}, "marks", ErrNotFound},
		{"over the cap", Entry{At: at(30), Subscribe: &NewSubscription{Sub: hook("sub_b", "203.0.113.1"), PerClient: 1}}, "subscribe", ErrTooManySubscriptions},
		{"id taken", Entry{At: at(30), Subscribe: &NewSubscription{Sub: hook("sub_a", "203.0.113.9")}}, "subscribe", nil},
		{"email without address", Entry{At: at(30), Subscribe: &NewSubscription{Sub: noAddress}}, "subscribe", nil},
		{"wrong state", Entry{At: at(30), Subscription: &SubscriptionChange{ID: "sub_a", State: SubPaused, From: []SubState{SubDisabled}}}, "subscription", ErrSubState},
		{"no such subscription", Entry{At: at(30), Subscription: &SubscriptionChange{ID: "sub_x", Delete: true}}, "subscription", ErrNotFound},
		{"preferences of nobody", Entry{At: at(30), Preferences: &Preferences{ID: "sub_a"}}, "preferences", ErrNotFound},
		{"ping nobody", Entry{At: at(30), Ping: &WebhookDelivery{Sub: "sub_x", MessageID: "m", Type: PingType, State: Pending}}, "ping", ErrNotFound},
		{"no time", Entry{Settings: []Setting{{Key: "other", Value: "o"}}}, "entry", nil},
		// A member whose checks differ: its inputs are refused before any
		// engine sees them.
		{"another model", Entry{At: at(30), Inputs: &Inputs{Model: "f-other", Results: []Input{{Check: "api-1", At: at(30), Outcome: probes.Down}}}}, "inputs", ErrOtherModel},
	}
	after := Entry{At: at(40), Announce: []Announcement{{Event: status.Event{ID: "evt-2"}, Dests: []Dest{{Name: "x"}}}}}

	a, _ := openTemp(t)
	b, _ := openTemp(t)
	index := uint64(0)
	both := func(e Entry) {
		t.Helper()
		index++
		e.Index = index
		mustApply(t, a, e)
		mustApply(t, b, e)
	}
	for _, e := range current {
		both(e)
	}
	var wantRecords []Refused
	for _, r := range refused {
		index++
		e := r.e
		e.Index = index
		e.Audit = audit // undone with the rest
		e.Announce = append(e.Announce, Announcement{Event: status.Event{ID: "stale-" + r.name}, Dests: []Dest{{Name: "x"}}})
		res, err := a.Apply(e)
		var ref *Refusal
		switch {
		case !errors.As(err, &ref):
			t.Errorf("%s: err = %v, not a refusal", r.name, err)
		case ref.Part != r.part:
			t.Errorf("%s: refused by part %q, want %q", r.name, ref.Part, r.part)
		case r.want != nil && !errors.Is(err, r.want):
			t.Errorf("%s: err = %v, want %v", r.name, err, r.want)
		}
		if len(res.Seqs) != 0 {
			t.Errorf("%s: result %+v", r.name, res)
		}
		if n, err := a.AppliedIndex(); err != nil || n != index {
			t.Errorf("%s: applied index %d (%v), want %d: the refused entry must be passed", r.name, n, err, index)
		}
		if err != nil {
			wantRecords = append(wantRecords, Refused{Index: index, At: e.At, Part: r.part, Message: err.Error()})
		}
	}
	both(after)
	sameReplicated(t, a, b)

	got, err := a.Refusals()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(wantRecords) {
		t.Fatalf("%d refusals recorded, want %d: %+v", len(got), len(wantRecords), got)
	}
	for i := range got {
		if got[i] != wantRecords[i] {
			t.Errorf("refusal %d = %+v, want %+v", i, got[i], wantRecords[i])
		}
	}
	// Replayed (a restart, a snapshot restore), a refused entry is passed
	// as any applied one: no second record.
	replay := refused[0].e
	replay.Index = uint64(len(current)) + 1
	if res, err := a.Apply(replay); err != nil || !res.Skipped {
		t.Errorf("replayed refused entry: %+v, %v", res, err)
	}
	if again, _ := a.Refusals(); len(again) != len(got) {
		t.Errorf("a replay recorded again: %d records, want %d", len(again), len(got))
	}
}

// The record of refusals keeps the last maxRefusals, so a writer stuck
// refusing cannot grow the file without end.
func TestRefusalRecordIsBounded(t *testing.T) {
	s, _ := openTemp(t)
	n := maxRefusals + 3
	for i := 1; i <= n; i++ {
		_, err := s.Apply(Entry{At: t0, Index: uint64(i), Decide: &Decision{Seq: uint64(i), Actor: "stale"}})
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	got, err := s.Refusals()
	if err != nil || len(got) != maxRefusals || got[0].Index != 4 || got[len(got)-1].Index != uint64(n) {
		t.Fatalf("%d records (%v), want %d from index 4 to %d", len(got), err, maxRefusals, n)
	}
	if idx, _ := s.AppliedIndex(); idx != uint64(n) {
		t.Fatalf("applied index %d, want %d", idx, n)
	}
}

// The local log (Index 0) writes nothing for a refusal, as before: the
// caller is answered and nothing is left in the file.
func TestLocalRefusalWritesNothing(t *testing.T) {
	s, _ := openTemp(t)
	before := bucketDump(t, s)
	_, err := s.Apply(Entry{At: t0, Decide: &Decision{Seq: 7, Actor: "oncall"}})
	var ref *Refusal
	if !errors.As(err, &ref) || !errors.Is(err, ErrNotFound) || ref.Part != "decide" {
		t.Fatalf("err = %v (%#v), want a refusal by decide wrapping ErrNotFound", err, ref)
	}
	if after := bucketDump(t, s); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("a local refusal wrote to the file")
	}
}

// A failed write is no refusal: the error says the node could not write,
// the applied index stays where it was, and the applier retries from it
// (here once the file is open again), when the entry is judged on its
// merits.
func TestFailedWriteIsNoRefusal(t *testing.T) {
	s, p := openTemp(t)
	mustApply(t, s, Entry{At: t0, Index: 1, Announce: []Announcement{{Event: status.Event{ID: "evt-1"}, Dests: []Dest{{Name: "x"}}}}})
	stale := Entry{At: t0, Index: 2, Decide: &Decision{Seq: 99, Actor: "stale"}}
	good := Entry{At: t0, Index: 2, Settings: []Setting{{Key: "k", Value: "v"}}}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, e := range []Entry{stale, good} {
		_, err := s.Apply(e)
		var ref *Refusal
		if err == nil || errors.As(err, &ref) || errors.Is(err, ErrNotFound) {
			t.Fatalf("apply on a closed file: err = %v, want a failure that is no refusal", err)
		}
	}
	s2, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if n, err := s2.AppliedIndex(); err != nil || n != 1 {
		t.Fatalf("applied index %d (%v) after failed writes, want 1", n, err)
	}
	if recs, err := s2.Refusals(); err != nil || len(recs) != 0 {
		t.Fatalf("refusals %+v (%v) after failed writes, want none", recs, err)
	}
	_, err = s2.Apply(stale)
	var ref *Refusal
	if !errors.As(err, &ref) || !strings.Contains(err.Error(), "99") {
		t.Fatalf("retried stale entry: err = %v, want a refusal", err)
	}
	if n, _ := s2.AppliedIndex(); n != 2 {
		t.Fatalf("applied index %d after the retried refusal, want 2", n)
	}
}

// A subscription of a kind or in a state this version does not know (a
// newer writer's) is no refusal and is not written either: a newer node
// may apply it otherwise, so this one stops on it rather than store a row
// that the others may not hold.
func TestUnknownSubscriptionValueIsNoRefusal(t *testing.T) {
	for _, tc := range []struct {
		name string
		sub  Subscription
	}{
		{"kind", Subscription{ID: "sub_1", Kind: "sms", State: SubPending, Client: "127.0.0.1"}},
		{"state", Subscription{ID: "sub_1", Kind: KindWebhook, State: "bouncing", Client: "127.0.0.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTemp(t)
			before := bucketDump(t, s)
			_, err := s.Apply(Entry{At: t0, Index: 1, Subscribe: &NewSubscription{Sub: tc.sub}})
			var ref *Refusal
			if err == nil || errors.As(err, &ref) {
				t.Fatalf("err = %v, want a failure that is no refusal", err)
			}
			if after := bucketDump(t, s); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Error("the subscription was written")
			}
		})
	}
}
