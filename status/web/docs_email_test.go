package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/store"
)

// The bounce and complaint feedback in docs/email.md works as written,
// run against the real handler: find the subscriber by address, then
// disable it with the reason.
func TestDocumentedBounceFeedbackWorks(t *testing.T) {
	s, st := emailAPIServer(t, &fakeSubscriber{}, false)
	h := s.Handler()
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	const id = "em_3f9c2a81d0b7e4465a1c"
	if _, err := st.Apply(store.Entry{At: now, Subscribe: &store.NewSubscription{Sub: store.Subscription{ID: id, Kind: store.KindEmail,
		Address: "Ann@Example.org", ConfirmHash: "h", ConfirmUntil: now.Add(time.Hour), CreatedAt: now, StateAt: now}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(store.Entry{At: now, Confirm: &store.Confirmation{TokenHash: "h"}}); err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, c := range docCurls(t, filepath.Join("..", "..", "docs", "email.md"), writeToken) {
		u, err := url.Parse(c.target)
		if err != nil || !strings.HasPrefix(u.Path, "/api/v1/subscriptions") {
			continue
		}
		req := httptest.NewRequest(c.method, u.RequestURI(), strings.NewReader(c.body))
		req.Header = c.headers
		req.RemoteAddr = "198.51.100.22:40000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), id) {
			t.Fatalf("%s: %q answers %d %s", c.file, c.line, rec.Code, rec.Body)
		}
		ran++
	}
	if ran != 2 {
		t.Fatalf("ran %d subscriber commands from docs/email.md, want 2 (find by address, disable)", ran)
	}
	if sub, err := st.Subscription(id); err != nil || sub.State != store.SubDisabled || !strings.Contains(sub.Reason, "550") {
		t.Fatalf("after the documented commands: %+v %v", sub, err)
	}
}
