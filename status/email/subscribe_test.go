package email

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/capability"
	"github.com/outpost-status/outpost/status/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "outpost.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// The mails' links are capability links signed with the site key: the
// unsubscribe link verifies for the subscriber and the unsubscribe
// purpose, the manage link for the manage purpose, both with no expiry.
func TestCapabilityLinks(t *testing.T) {
	st := openStore(t)
	k := capability.First(bytes.Repeat([]byte{7}, 32), time.Now())
	settings, err := store.SiteKeySettings(k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(store.Entry{At: time.Now(), Settings: settings}); err != nil {
		t.Fatal(err)
	}
	l := CapabilityLinks{SiteURL: "https://status.example.com/", Keys: st}
	sub := store.Subscription{ID: "em_1", Kind: store.KindEmail, Address: "a@example.com"}
	u, err := l.Unsubscribe(sub)
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := strings.CutPrefix(u, "https://status.example.com/unsubscribe/")
	if !ok {
		t.Fatalf("unsubscribe link %q", u)
	}
	id, err := capability.Verify(capability.Keys{k}, tok, capability.Unsubscribe, time.Now().Add(10*365*24*time.Hour))
	if err != nil || id != "em_1" {
		t.Fatalf("the link's token: %q %v", id, err)
	}
	m, un, err := l.For(sub)
	if err != nil || un != u {
		t.Fatalf("For's unsubscribe link %q, want %q", un, u)
	}
	mtok, ok := strings.CutPrefix(m, "https://status.example.com/manage/")
	if !ok {
		t.Fatalf("manage link %q, want {site.url}/manage/{token}", m)
	}
	if id, err := capability.Verify(capability.Keys{k}, mtok, capability.Manage, time.Now().Add(10*365*24*time.Hour)); err != nil || id != "em_1" {
		t.Fatalf("the manage link's token: %q %v", id, err)
	}
	if _, err := capability.Verify(capability.Keys{k}, mtok, capability.Unsubscribe, time.Now()); err == nil {
		t.Fatal("the manage link unsubscribes in one click")
	}
}

// subscriber is a Subscribe service on a real store and a fake MTA, with
// a clock the test moves.
func subscriber(t *testing.T, mta *fakeMTA, now *time.Time) (*Subscribe, *store.Store) {
	t.Helper()
	st := openStore(t)
	c, err := NewComposer(Options{Site: Site{Title: "Acme Status", URL: "https://status.example.com"}, From: "status@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	s := NewSubscribe(SubscribeOptions{Log: st, Store: st, Composer: c, Transport: transport(t, serve(t, mta), 1, 5*time.Second),
		SiteURL: "https://status.example.com", Now: func() time.Time { return *now }})
	return s, st
}

// A request stores a pending subscriber (the token's hash, 24 h) and mails
// the confirmation at once. An address gets at most 3 confirmation mails
// in 24 h (then nothing, with the same answer), and an address already
// confirmed gets none.
func TestSubscribeMailsConfirmation(t *testing.T) {
	mta := &fakeMTA{}
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	s, st := subscriber(t, mta, &now)
	ctx := context.Background()
	req := Request{Address: "Ann@Example.com", Components: []string{"api"}}
	for i := range 5 {
		if err := s.Request(ctx, req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		now = now.Add(time.Minute)
	}
	if _, _, n := mta.counts(); n != 3 {
		t.Fatalf("%d confirmation mails for 5 requests within 24 h, want 3", n)
	}
	sub, err := st.EmailSubscriber("ann@example.com")
	if err != nil || sub.State != store.SubPending || sub.ConfirmHash == "" || !sub.ConfirmUntil.Equal(now.Add(-3*time.Minute).Add(ConfirmValidity)) {
		t.Fatalf("stored %+v (%v), want pending with the third mail's token for 24 h", sub, err)
	}
	now = now.Add(24 * time.Hour)
	if err := s.Request(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, _, n := mta.counts(); n != 4 {
		t.Fatalf("%d mails after the day passed, want 4", n)
	}
	sub, _ = st.EmailSubscriber("ann@example.com")
	if _, err := st.Apply(store.Entry{At: now, Confirm: &store.Confirmation{TokenHash: sub.ConfirmHash}}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(25 * time.Hour)
	if err := s.Request(ctx, req); err != nil {
		t.Fatalf("a confirmed address: %v, want the usual answer", err)
	}
	if _, _, n := mta.counts(); n != 4 {
		t.Fatalf("a confirmed address was mailed again (%d mails)", n)
	}
}

// A server that does not take the mail makes the request fail, so the
// form asks the person to try again.
func TestSubscribeMailRefused(t *testing.T) {
	mta := &fakeMTA{data: func(*smtp.Conn, int) error {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}}
	now := time.Now()
	s, _ := subscriber(t, mta, &now)
	if err := s.Request(context.Background(), Request{Address: "bob@example.com"}); err == nil {
		t.Fatal("a refused confirmation mail: no error")
	}
}

// The per-address limit on confirmation mails is kept in the data file
// (the Subscribe entry applies it on the entry's time), so a restart does
// not grant 3 more and a cluster keeps one count: after 3 mails and a
// reopen of the store by a new service, a 4th request within 24 h sends
// nothing; in the 25th hour one goes again. Every request is answered
// alike (nil), so the form's answer never tells.
func TestConfirmationLimitSurvivesRestart(t *testing.T) {
	mta := &fakeMTA{}
	path := filepath.Join(t.TempDir(), "outpost.db")
	start := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	now := start
	c, err := NewComposer(Options{Site: Site{Title: "Acme Status", URL: "https://status.example.com"}, From: "status@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	tr := transport(t, serve(t, mta), 1, 5*time.Second)
	service := func() (*Subscribe, *store.Store) {
		st, err := store.Open(path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return NewSubscribe(SubscribeOptions{Log: st, Store: st, Composer: c, Transport: tr,
			SiteURL: "https://status.example.com", Now: func() time.Time { return now }}), st
	}
	req := Request{Address: "ann@example.com"}
	s, st := service()
	for i := range MaxConfirmations {
		if err := s.Request(context.Background(), req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		now = now.Add(time.Hour)
	}
	st.Close()
	s, st = service()
	defer func() { st.Close() }()
	for _, c := range []struct {
		at    time.Time
		mails int
	}{
		{start.Add(5 * time.Hour), MaxConfirmations},  // the 4th within 24 h, after the restart
		{start.Add(23*time.Hour + 59*time.Minute), 3}, // still within the first mail's day
		{start.Add(24*time.Hour + time.Minute), 4},    // the 25th hour: the first mail's day is over
		{start.Add(24*time.Hour + 2*time.Minute), 4},  // 3 in the last 24 h again
		{start.Add(25*time.Hour + time.Minute), 5},    // the second mail's day is over
	} {
		now = c.at
		if err := s.Request(context.Background(), req); err != nil {
			t.Fatalf("request at +%s: %v, want the same answer as any", c.at.Sub(start), err)
		}
		if _, _, n := mta.counts(); n != c.mails {
			t.Fatalf("at +%s: %d confirmation mails, want %d", c.at.Sub(start), n, c.mails)
		}
	}
}

// The limit is per mailbox, not per spelling: most providers deliver
// ann+anything@ to ann@ (subaddressing, RFC 5233), so tagged spellings
// share ann's confirmation mails, and an erasure (which needs a link
// from a mail already sent) does not start the count again.
func TestSubaddressesShareTheLimit(t *testing.T) {
	mta := &fakeMTA{}
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	c, err := NewComposer(Options{Site: Site{Title: "Acme Status", URL: "https://status.example.com"}, From: "status@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "outpost.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := NewSubscribe(SubscribeOptions{Log: st, Store: st, Composer: c, Transport: transport(t, serve(t, mta), 1, 5*time.Second),
		SiteURL: "https://status.example.com", Now: func() time.Time { return now }})
	for i, addr := range []string{"ann@example.com", "ann+1@example.com", "ANN+news@Example.com", "ann+2@example.com", "ann+3@example.com"} {
		if err := s.Request(context.Background(), Request{Address: addr}); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		now = now.Add(time.Minute)
	}
	if _, _, n := mta.counts(); n != MaxConfirmations {
		t.Fatalf("%d confirmation mails to ann's mailbox, want %d", n, MaxConfirmations)
	}
	sub, err := st.EmailSubscriber("ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(store.Entry{At: now, Subscription: &store.SubscriptionChange{ID: sub.ID, Erase: true}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Request(context.Background(), Request{Address: "ann@example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, _, n := mta.counts(); n != MaxConfirmations {
		t.Fatalf("after an erasure: %d confirmation mails, want still %d", n, MaxConfirmations)
	}
	if err := s.Request(context.Background(), Request{Address: "bob+ann@example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, _, n := mta.counts(); n != MaxConfirmations+1 {
		t.Fatalf("another mailbox: %d mails in all, want %d", n, MaxConfirmations+1)
	}
}

// A site key that cannot be read (a damaged value in the data file) is
// Outpost's trouble, not the subscriber's: the mail, which would carry no
// way to leave, is not sent, and its outcome is a retry that is not
// permanent (the email rule then retries it on its schedule and never
// counts it against the address). The key readable again, it goes.
func TestUnreadableSiteKeyRetriesTheMail(t *testing.T) {
	mta := &fakeMTA{}
	st := openStore(t)
	if _, err := st.Apply(store.Entry{At: time.Now(), Settings: []store.Setting{{Key: "sitekey/k-bad", Value: "{not json"}}}); err != nil {
		t.Fatal(err)
	}
	c, err := NewComposer(Options{Site: Site{Title: "Acme Status", URL: "https://status.example.com"}, From: "status@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	s := &Sender{Composer: c, Transport: transport(t, serve(t, mta), 1, 5*time.Second),
		Links: CapabilityLinks{SiteURL: "https://status.example.com", Keys: st}, Now: time.Now}
	ev := incidentEvent(status.IncidentCreated, "evt-7", status.Investigating, "")
	sub := store.Subscription{ID: "em_1", Kind: store.KindEmail, Address: "ann@example.com", State: store.SubActive}
	job := store.WebhookJob{Delivery: store.WebhookDelivery{Seq: 5, Sub: "em_1"}, Sub: &sub, Event: &ev}
	out := s.Send(context.Background(), []store.WebhookJob{job})
	if len(out) != 1 || out[0].Permanent || !out[0].Unsent || out[0].Error == "" {
		t.Fatalf("outcome %+v, want a retry (not permanent) of a mail not sent", out)
	}
	if _, _, n := mta.counts(); n != 0 {
		t.Fatalf("%d mails sent without a way to leave", n)
	}
	k := capability.First(bytes.Repeat([]byte{7}, 32), time.Now())
	good, err := store.SiteKeySettings(k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(store.Entry{At: time.Now(), Settings: []store.Setting{{Key: "sitekey/k-bad", Value: good[0].Value}}}); err != nil {
		t.Fatal(err)
	}
	if out := s.Send(context.Background(), []store.WebhookJob{job}); len(out) != 1 || out[0].Error != "" {
		t.Fatalf("with the key readable: %+v", out)
	}
}

// Submit answers from the address's spelling alone and queues the
// request: a full queue refuses any address alike (ErrBusy), a bad
// address is refused as Request refuses it, and Run then stores and
// mails what was queued.
func TestSubmitQueuesForRun(t *testing.T) {
	mta := &fakeMTA{}
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	s, st := subscriber(t, mta, &now)
	if err := s.Submit(Request{Address: "ann@example.com\r\nBcc: x@example.com"}); !errors.Is(err, ErrAddress) {
		t.Fatalf("a bad address: %v, want ErrAddress", err)
	}
	for i := range DefaultQueue {
		if err := s.Submit(Request{Address: "ann@example.com"}); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if err := s.Submit(Request{Address: "bob@example.com"}); !errors.Is(err, ErrBusy) {
		t.Fatalf("a full queue: %v, want ErrBusy", err)
	}
	if _, _, n := mta.counts(); n != 0 {
		t.Fatalf("%d mails before Run", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for _, _, n := mta.counts(); n < MaxConfirmations; _, _, n = mta.counts() {
		if time.Now().After(deadline) {
			t.Fatalf("%d confirmation mails after Run, want %d", n, MaxConfirmations)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if sub, err := st.EmailSubscriber("ann@example.com"); err != nil || sub.State != store.SubPending {
		t.Fatalf("after Run: %+v %v", sub, err)
	}
}
