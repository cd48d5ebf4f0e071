package email

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/store"
)

// The service refuses what the form and the JSON API refuse, with the
// same check: a caller that skipped it (a future one, a script) stores no
// subscriber and mails nobody at an address the form would not take.
func TestSubscribeRefusesBadAddresses(t *testing.T) {
	mta := &fakeMTA{}
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	s, st := subscriber(t, mta, &now)
	for _, addr := range []string{"", "root@localhost", "a@[127.0.0.1]", "a@1.2.3.4", "Ann <ann@example.org>",
		"ann@example.org\r\nBcc: victim@example.org", "ann@example.org, bob@example.org", "a\u200b@example.org"} {
		err := s.Request(context.Background(), Request{Address: addr})
		if !errors.Is(err, ErrAddress) {
			t.Errorf("%q: %v, want ErrAddress", addr, err)
		}
	}
	subs, err := st.Subscriptions()
	if err != nil || len(subs) != 0 {
		t.Fatalf("stored %+v (%v), want nothing", subs, err)
	}
	if _, _, n := mta.counts(); n != 0 {
		t.Fatalf("%d mails sent to refused addresses", n)
	}
	if err := s.Request(context.Background(), Request{Address: " ann@example.org "}); err != nil {
		t.Fatalf("a good address with spaces around: %v", err)
	}
	if sub, err := st.EmailSubscriber("ann@example.org"); err != nil || sub.Address != "ann@example.org" || sub.State != store.SubPending {
		t.Fatalf("stored %+v (%v), want the trimmed address, pending", sub, err)
	}
}
