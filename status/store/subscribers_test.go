package store

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/status"
)

// A file written before subscribers had a kind reads as webhook
// subscriptions, and the webhook fan-out still reaches them.
func TestSubscriptionsWrittenBeforeKindsReadAsWebhooks(t *testing.T) {
	p := filepath.Join(t.TempDir(), "outpost.db")
	s, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(p, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A row exactly as an Outpost before issue #26 wrote it.
	old := `{"id":"sub_old","url":"https://hooks.example.com/a","state":"active","secrets":[{"value":"whsec_1"}],"token_hash":"x","client":"c","created_at":"2026-11-01T00:00:00Z","state_at":"2026-11-01T00:00:00Z"}`
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketSubs).Put([]byte("sub_old"), []byte(old)) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err = Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sub, err := s.Subscription("sub_old")
	if err != nil || sub.Kind != KindWebhook {
		t.Fatalf("old row: kind %q (%v), want %q", sub.Kind, err, KindWebhook)
	}
	announce(t, s, status.Event{ID: "evt-1", Type: status.IncidentCreated}, []Dest{{Name: WebhooksDest}}, t0)
	rows, subs, err := s.DueForFanout(WebhooksDest, 10, t0)
	if err != nil || len(rows) != 1 || len(subs) != 1 || subs[0].ID != "sub_old" {
		t.Fatalf("fan-out of an old file: %d rows, subs %+v (%v)", len(rows), subs, err)
	}
	if n := s.mustCounts(t)[KindWebhook][SubActive]; n != 1 {
		t.Fatalf("active webhook subscribers = %d, want 1", n)
	}
}

func (s *Store) mustCounts(t *testing.T) map[SubKind]map[SubState]int {
	t.Helper()
	c := map[SubKind]map[SubState]int{}
	for _, kind := range []SubKind{KindWebhook, KindEmail} {
		st, err := s.SubscriberStats(kind)
		if err != nil {
			t.Fatal(err)
		}
		c[kind] = st.Subscriptions
	}
	return c
}

// emailSub is a pending email subscriber whose confirmation token is tok.
func emailSub(id, addr, tok string, comps []string, maint bool) Subscription {
	return Subscription{ID: id, Kind: KindEmail, Address: addr, Components: comps, Maintenance: maint, State: SubPending,
		ConfirmHash: HashToken(tok), ConfirmUntil: t0.Add(24 * time.Hour), Client: "c-" + id, CreatedAt: t0, StateAt: t0}
}

// Email subscribers: double opt-in by token hash before expiry, the
// fan-out's matching rule, the email retry rule (4xx retry, 5xx fails
// that delivery, DisableAfterPermanent in a row disables), erasure, and
// unconfirmed ones forgotten.
func TestEmailSubscribers(t *testing.T) {
	s, _ := openTemp(t)
	for _, sub := range []Subscription{
		emailSub("em_all", "all@example.com", "t-all", nil, true),
		emailSub("em_db", "db@example.org", "t-db", []string{"db"}, false),
		emailSub("em_new", "new@example.net", "t-new", nil, true),
		emailSub("em_late", "late@example.net", "t-late", nil, true),
	} {
		mustApply(t, s, Entry{At: t0, Subscribe: &NewSubscription{Sub: sub}})
	}
	// The same address again: no second subscriber, and nothing that
	// tells; the new link replaces the pending one's.
	again := emailSub("em_dup", "all@example.com", "t-dup", nil, true)
	mustApply(t, s, Entry{At: t0, Subscribe: &NewSubscription{Sub: again}})
	if _, err := s.Subscription("em_dup"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a second subscriber for one address: %v", err)
	}
	for _, tok := range []string{"t-dup", "t-db"} {
		mustApply(t, s, Entry{At: t0.Add(time.Hour), Confirm: &Confirmation{TokenHash: HashToken(tok)}})
	}
	for _, c := range []struct {
		tok  string
		at   time.Time
		want error
	}{
		{"t-dup", t0.Add(2 * time.Hour), ErrSubState},       // confirmed already
		{"t-all", t0.Add(2 * time.Hour), ErrNotFound},       // replaced by t-dup
		{"t-late", t0.Add(25 * time.Hour), ErrTokenExpired}, // after the link's expiry
		{"t-unknown", t0, ErrNotFound},
	} {
		if _, err := s.Apply(Entry{At: c.at, Confirm: &Confirmation{TokenHash: HashToken(c.tok)}}); !errors.Is(err, c.want) {
			t.Errorf("confirm %s: %v, want %v", c.tok, err, c.want)
		}
	}
	if sub, err := s.SubscriberByConfirmHash(HashToken("t-dup")); err != nil || sub.State != SubActive || sub.ConfirmedAt.IsZero() {
		t.Fatalf("em_all after confirming: %+v (%v)", sub, err)
	}
	if sub, err := s.EmailSubscriber("DB@example.org"); err != nil || sub.ID != "em_db" {
		t.Fatalf("by address: %+v (%v)", sub, err)
	}

	inc := &status.Incident{ID: "inc-1", Components: []string{"api"}}
	maint := &status.Incident{ID: "mnt-1", Components: []string{"db"}, Maintenance: &status.MaintenanceInfo{WindowID: "w1"}}
	events := []status.Event{
		{ID: "evt-inc", Type: status.IncidentCreated, Incident: inc},
		{ID: "evt-comp", Type: status.ComponentStatusChanged, Component: &status.ComponentEvent{ID: "api"}},
		{ID: "evt-mnt", Type: status.MaintenanceScheduled, Incident: maint},
		{ID: "evt-ops", Type: status.MonitorPeerDown},
	}
	for _, ev := range events {
		announce(t, s, ev, []Dest{{Name: EmailDest}}, t0.Add(time.Hour))
	}
	rows, subs, err := s.DueForFanout(EmailDest, 10, t0.Add(time.Hour))
	if err != nil || len(rows) != 4 || len(subs) != 2 {
		t.Fatalf("due: %d rows, %d confirmed subscribers (%v)", len(rows), len(subs), err)
	}
	got := map[string][]string{}
	var fan []FannedRow
	for _, r := range rows {
		f := FannedRow{Seq: r.Seq, Dest: EmailDest}
		for _, sub := range subs {
			if sub.EmailWants(r.Event) {
				f.Subs = append(f.Subs, sub.ID)
				got[r.Event.ID] = append(got[r.Event.ID], sub.ID)
			}
		}
		fan = append(fan, f)
	}
	// em_db chose db and no maintenance: the api incident is not its;
	// em_all takes the incident and the maintenance; nobody takes a
	// component change or an operators' event.
	if len(got) != 2 || len(got["evt-inc"]) != 1 || got["evt-inc"][0] != "em_all" || len(got["evt-mnt"]) != 1 || got["evt-mnt"][0] != "em_all" {
		t.Fatalf("matching: %v; want evt-inc and evt-mnt to em_all only", got)
	}
	// Apply re-checks the rule: a listed subscriber that does not want the
	// event (or is not confirmed) gets nothing.
	fan[1].Subs = []string{"em_all", "em_new"}
	res := mustApply(t, s, Entry{At: t0.Add(time.Hour), Fanout: fan})
	if res.Rows != 4 || res.Created != 2 {
		t.Fatalf("fan-out: rows %d created %d, want 4 and 2", res.Rows, res.Created)
	}
	if rows, _, _ := s.DueForFanout(EmailDest, 10, t0.Add(time.Hour)); len(rows) != 0 {
		t.Fatalf("expanded twice: %d rows still due", len(rows))
	}
	emailRule(t, s)

	// Erasure removes the address and its deliveries at once; unconfirmed
	// subscribers are forgotten after 7 days.
	mustApply(t, s, Entry{At: t0.Add(2 * time.Hour), Subscription: &SubscriptionChange{ID: "em_db", Delete: true}})
	if _, err := s.EmailSubscriber("db@example.org"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("erased address still found: %v", err)
	}
	week := t0.Add(7*24*time.Hour + time.Minute)
	mustApply(t, s, Entry{At: week, PruneWebhooks: &PruneWebhooks{Cutoff: t0.Add(-time.Hour), Limit: 100, Unconfirmed: week.Add(-7 * 24 * time.Hour)}})
	for id, want := range map[string]bool{"em_new": false, "em_late": false, "em_all": true} {
		if _, err := s.Subscription(id); (err == nil) != want {
			t.Errorf("%s after 7 days: %v (kept: %v)", id, err, want)
		}
	}
	if c := s.mustCounts(t); c[KindEmail][SubDisabled] != 1 || c[KindEmail][SubPending] != 0 {
		t.Fatalf("counts: %v", c)
	}
}

// emailRule runs em_all's one delivery through the email rule.
func emailRule(t *testing.T, s *Store) {
	t.Helper()
	refs, err := s.OpenDeliveries(KindEmail, 0, 10)
	if err != nil || len(refs) != 2 || refs[0].Sub != "em_all" || refs[1].Sub != "em_all" {
		t.Fatalf("open deliveries: %+v (%v)", refs, err)
	}
	seq := refs[0].Seq
	policy := WebhookPolicy{EmailSchedule: []time.Duration{time.Minute, time.Minute}, DisableAfterPermanent: 2}
	at := t0.Add(time.Hour)
	// 451: retried after the schedule's wait.
	res := mustApply(t, s, Entry{At: at, Outcomes: &WebhookOutcomes{Policy: policy, List: []WebhookOutcome{{Seq: seq, At: at, Status: 451, Error: "451 try later"}}}})
	if l := res.Outcomes[0].Labels; len(l) != 1 || l[0] != "retry" {
		t.Fatalf("451: %v", l)
	}
	// 550: that delivery fails for good; one permanent failure is not yet
	// DisableAfterPermanent.
	res = mustApply(t, s, Entry{At: at.Add(time.Minute), Outcomes: &WebhookOutcomes{Policy: policy, List: []WebhookOutcome{{Seq: seq, At: at.Add(time.Minute), Status: 550, Error: "550 no such user", Permanent: true}}}})
	if l := res.Outcomes[0].Labels; len(l) != 1 || l[0] != "failed" {
		t.Fatalf("550: %v", l)
	}
	if sub, _ := s.Subscription("em_all"); sub.State != SubActive || sub.PermanentFailures != 1 {
		t.Fatalf("after one 550: %+v", sub)
	}
	// A mail that could not even be built fails for good, but says nothing
	// about the address (no server answer): the count stays.
	mustApply(t, s, Entry{At: at, Ping: &WebhookDelivery{Sub: "em_all", MessageID: "evt-x", Type: string(status.IncidentUpdated), State: Pending, NextAt: at, CreatedAt: at}})
	last, _ := s.WebhookLog("em_all", 1)
	res = mustApply(t, s, Entry{At: at.Add(time.Minute), Outcomes: &WebhookOutcomes{Policy: policy, List: []WebhookOutcome{{Seq: last[0].Seq, At: at.Add(time.Minute), Error: "email: template failed", Permanent: true}}}})
	if sub, _ := s.Subscription("em_all"); res.Outcomes[0].Labels[0] != "failed" || sub.PermanentFailures != 1 {
		t.Fatalf("a mail not built: %v, %d permanent failures, want failed and still 1", res.Outcomes[0].Labels, sub.PermanentFailures)
	}
	// The maintenance mail failing for good too: disabled, with why.
	res = mustApply(t, s, Entry{At: at.Add(2 * time.Minute), Outcomes: &WebhookOutcomes{Policy: policy, List: []WebhookOutcome{{Seq: refs[1].Seq, At: at.Add(2 * time.Minute), Status: 550, Error: "550 no such user", Permanent: true}}}})
	if l := res.Outcomes[0].Labels; len(l) != 2 || l[1] != "disabled" {
		t.Fatalf("second 550: %v", l)
	}
	if sub, _ := s.Subscription("em_all"); sub.State != SubDisabled || sub.Reason == "" {
		t.Fatalf("after two 550s: %+v", sub)
	}
}

// Each kind's statistics count its own subscribers and open deliveries:
// email subscribers and their mails do not show as webhooks.
func TestStatsPerKind(t *testing.T) {
	s, _ := openTemp(t)
	if err := subscribe(s, Subscription{ID: "wh_a", URL: "https://hooks.example.com/a", State: SubActive, Client: "c", CreatedAt: t0},
		WebhookDelivery{Type: VerifyType, State: Sent, CreatedAt: t0}, 5); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"em_1", "em_2"} {
		mustApply(t, s, Entry{At: t0, Subscribe: &NewSubscription{Sub: emailSub(id, id+"@example.com", "t-"+id, nil, false)}})
		mustApply(t, s, Entry{At: t0, Confirm: &Confirmation{TokenHash: HashToken("t-" + id)}})
	}
	ev := status.Event{ID: "evt-1", Type: status.IncidentCreated, Incident: &status.Incident{ID: "inc-1"}}
	seq := announce(t, s, ev, []Dest{{Name: WebhooksDest}, {Name: EmailDest}}, t0)
	mustApply(t, s, Entry{At: t0, Fanout: []FannedRow{{Seq: seq, Body: []byte(`{}`), Subs: []string{"wh_a"}},
		{Seq: seq, Dest: EmailDest, Subs: []string{"em_1", "em_2"}}}})
	for _, c := range []struct {
		kind       SubKind
		subs, open int
	}{{KindWebhook, 1, 1}, {KindEmail, 2, 2}} {
		st, err := s.SubscriberStats(c.kind)
		if err != nil || st.Subscriptions[SubActive] != c.subs || st.Open != c.open || st.OldestOpen.IsZero() {
			t.Errorf("%s stats: %+v (%v), want %d active and %d open", c.kind, st, err, c.subs, c.open)
		}
	}
	if st, _ := s.WebhookStats(); st.Subscriptions[SubActive] != 1 || st.Open != 1 {
		t.Errorf("WebhookStats counts other kinds: %+v", st)
	}
}

// Each kind has its own open index: with many open mails and one open
// webhook delivery, the webhook loop's page holds just its row and the
// webhook index holds no mail (so its scan never walks the mails);
// finishing, erasing and pruning keep both indexes in agreement.
func TestEachKindHasItsOwnOpenIndex(t *testing.T) {
	s, _ := openTemp(t)
	mustApply(t, s, Entry{At: t0, Subscribe: &NewSubscription{Sub: emailSub("em_1", "one@example.com", "t-1", nil, false)}})
	mustApply(t, s, Entry{At: t0, Confirm: &Confirmation{TokenHash: HashToken("t-1")}})
	if err := subscribe(s, Subscription{ID: "wh_a", URL: "https://hooks.example.com/a", State: SubActive, Client: "c", CreatedAt: t0},
		WebhookDelivery{Type: VerifyType, State: Sent, CreatedAt: t0}, 5); err != nil {
		t.Fatal(err)
	}
	const mails = 2000
	var ann []Announcement
	for i := range mails {
		inc := &status.Incident{ID: fmt.Sprintf("inc-%d", i), Components: []string{"api"}}
		ann = append(ann, Announcement{Event: status.Event{ID: fmt.Sprintf("evt-%d", i), Type: status.IncidentCreated, Incident: inc}, Dests: []Dest{{Name: EmailDest}}})
	}
	seqs := mustApply(t, s, Entry{At: t0, Announce: ann}).Seqs
	var fan []FannedRow
	for _, seq := range seqs {
		fan = append(fan, FannedRow{Seq: seq, Dest: EmailDest, Subs: []string{"em_1"}})
	}
	mustApply(t, s, Entry{At: t0, Fanout: fan})
	hook := announce(t, s, status.Event{ID: "evt-hook", Type: status.IncidentCreated, Incident: &status.Incident{ID: "inc-h"}}, []Dest{{Name: WebhooksDest}}, t0)
	mustApply(t, s, Entry{At: t0, Fanout: []FannedRow{{Seq: hook, Body: []byte(`{}`), Subs: []string{"wh_a"}}}})

	refs, err := s.OpenDeliveries(KindWebhook, 0, 16)
	if err != nil || len(refs) != 1 || refs[0].Sub != "wh_a" {
		t.Fatalf("the webhook kind's first page: %d rows, first %+v (%v); want wh_a's one row", len(refs), first(refs), err)
	}
	if n := s.openKeys(t, KindWebhook); n != 1 {
		t.Fatalf("the webhook index holds %d rows, want 1: its scan reads the mails", n)
	}
	mailRefs, err := s.OpenDeliveries(KindEmail, 0, 2*mails)
	if err != nil || len(mailRefs) != mails || mailRefs[0].Sub != "em_1" || mailRefs[mails-1].Incident != fmt.Sprintf("inc-%d", mails-1) {
		t.Fatalf("the email kind's page: %d rows, first %+v (%v); want %d of em_1", len(mailRefs), first(mailRefs), err, mails)
	}
	for _, c := range []struct {
		kind SubKind
		open int
	}{{KindWebhook, 1}, {KindEmail, mails}} {
		if st, err := s.SubscriberStats(c.kind); err != nil || st.Open != c.open || st.OldestOpen.IsZero() {
			t.Errorf("%s stats: %+v (%v), want %d open", c.kind, st, err, c.open)
		}
	}
	// A mail sent leaves the email index; erasing the subscriber empties
	// it; pruning clears the webhook one.
	mustApply(t, s, Entry{At: t0, Outcomes: &WebhookOutcomes{List: []WebhookOutcome{{Seq: mailRefs[0].Seq, At: t0, Status: 250}}}})
	if n := s.openKeys(t, KindEmail); n != mails-1 {
		t.Fatalf("after one mail went: %d open mails, want %d", n, mails-1)
	}
	mustApply(t, s, Entry{At: t0, Subscription: &SubscriptionChange{ID: "em_1", Delete: true}})
	mustApply(t, s, Entry{At: t0.Add(time.Hour), PruneWebhooks: &PruneWebhooks{Cutoff: t0.Add(time.Minute), Limit: 10}})
	for _, kind := range []SubKind{KindWebhook, KindEmail} {
		if n := s.openKeys(t, kind); n != 0 {
			t.Errorf("%s index after erasure and pruning: %d rows", kind, n)
		}
	}
}

func first(refs []OpenRef) OpenRef {
	if len(refs) == 0 {
		return OpenRef{}
	}
	return refs[0]
}

// openKeys counts the rows of kind's open index.
func (s *Store) openKeys(t *testing.T, kind SubKind) int {
	t.Helper()
	n := 0
	if err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(openBucket(kind)).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// A pending subscriber who sends the form again takes the new form's
// choices with its new link; a confirmed one keeps its own (they change
// only through its manage link), and so does a request over the limit.
func TestResubmittedFormTakesNewChoices(t *testing.T) {
	s, _ := openTemp(t)
	mustApply(t, s, Entry{At: t0, Subscribe: &NewSubscription{Sub: emailSub("em_p", "p@example.com", "t-p1", []string{"api"}, false)}})
	mustApply(t, s, Entry{At: t0, Subscribe: &NewSubscription{Sub: emailSub("em_c", "c@example.com", "t-c1", []string{"api"}, false)}})
	mustApply(t, s, Entry{At: t0, Confirm: &Confirmation{TokenHash: HashToken("t-c1")}})
	for _, c := range []struct {
		addr, tok   string
		at          time.Time
		comps       []string
		maintenance bool
		limited     bool
	}{
		{"p@example.com", "t-p2", t0.Add(time.Minute), []string{"db", "web"}, true, false},
		{"c@example.com", "t-c2", t0.Add(time.Minute), []string{"api"}, false, false},
		{"p@example.com", "t-p3", t0.Add(2 * time.Minute), nil, false, false},
		{"p@example.com", "t-p4", t0.Add(3 * time.Minute), nil, false, true}, // a 4th: refused, nothing changes
	} {
		again := emailSub("em_new", c.addr, c.tok, []string{"db", "web"}, true)
		if c.addr == "p@example.com" && c.tok != "t-p4" {
			again.Components, again.Maintenance = c.comps, c.maintenance
		}
		res := mustApply(t, s, Entry{At: c.at, Subscribe: &NewSubscription{Sub: again}})
		sub, err := s.EmailSubscriber(c.addr)
		if err != nil || res.Limited != c.limited || !slices.Equal(sub.Components, c.comps) || sub.Maintenance != c.maintenance {
			t.Errorf("%s after %s: components %v, maintenance %v, limited %v (%v); want %v, %v, %v",
				c.addr, c.tok, sub.Components, sub.Maintenance, res.Limited, err, c.comps, c.maintenance, c.limited)
		}
	}
}

// A webhook Subscribe entry that names no kind (as the webhook service
// wrote them) stores its row with the kind, so the row is the same
// whether the entry was applied as built or after a codec round trip
// (where reading the subscription fills the kind in).
func TestSubscribeStoresTheKind(t *testing.T) {
	s, _ := openTemp(t)
	sub := Subscription{ID: "sub_k", URL: "https://hooks.example.com/k", TokenHash: "x", Client: "c", CreatedAt: t0, StateAt: t0}
	mustApply(t, s, Entry{At: t0, Subscribe: &NewSubscription{Sub: sub}})
	var raw []byte
	s.view(func(tx *bolt.Tx) error { raw = bytes.Clone(tx.Bucket(bucketSubs).Get([]byte("sub_k"))); return nil })
	if !bytes.Contains(raw, []byte(`"kind":"webhook"`)) {
		t.Fatalf("the row as stored: %s; want its kind", raw)
	}
}
