package email

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"

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
	u := l.Unsubscribe(sub)
	tok, ok := strings.CutPrefix(u, "https://status.example.com/unsubscribe/")
	if !ok {
		t.Fatalf("unsubscribe link %q", u)
	}
	id, err := capability.Verify(capability.Keys{k}, tok, capability.Unsubscribe, time.Now().Add(10*365*24*time.Hour))
	if err != nil || id != "em_1" {
		t.Fatalf("the link's token: %q %v", id, err)
	}
	m, un := l.For(sub)
	if un != u {
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
