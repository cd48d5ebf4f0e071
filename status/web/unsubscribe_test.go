package web

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/capability"
	"github.com/outpost-status/outpost/status/store"
)

// newSub creates a webhook subscription through the public API.
func newSub(t *testing.T, h http.Handler, n int) string {
	t.Helper()
	code, created := call(t, h, "POST", "/api/v1/subscriptions", "", `{"url":"https://hooks.example.com/s`+string(rune('a'+n))+`"}`, "198.51.100.30")
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, created)
	}
	return created["id"].(string)
}

func sendForm(t *testing.T, h http.Handler, method, path, contentType string, body io.Reader) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	req.RemoteAddr = "203.0.113.9:5000"
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func oneClickMultipart(t *testing.T, field, value string) (string, io.Reader) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if err := w.WriteField(field, value); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return w.FormDataContentType(), &b
}

func subscribed(t *testing.T, st *store.Store, id string) bool {
	t.Helper()
	_, err := st.Subscription(id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// A GET of a capability unsubscribe link shows one button and changes
// nothing (mail scanners follow GETs); the button's POST, or an RFC 8058
// one-click POST (urlencoded or multipart, no token in the form, no
// origin), deletes the subscription and answers after the commit.
func TestUnsubscribeByCapabilityLink(t *testing.T) {
	s, st := subscriptionServer(t, 10)
	h := s.Handler()
	key := seedSiteKey(t, st, time.Now().Add(-time.Hour))
	link := func(id string) string {
		tok, err := capability.Sign(key, id, capability.Unsubscribe, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return "/unsubscribe/" + tok
	}
	a, b := newSub(t, h, 0), newSub(t, h, 1)

	rec := sendForm(t, h, http.MethodGet, link(a), "", nil)
	page := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") ||
		strings.Count(page, "<form") != 1 || !strings.Contains(page, `<form method="post">`) || !strings.Contains(page, ">Unsubscribe</button>") ||
		!strings.Contains(page, `name="List-Unsubscribe" value="One-Click"`) {
		t.Fatalf("GET: %d %s", rec.Code, page)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("GET: CSP %q does not let the button post to its own page", csp)
	}
	if rec.Header().Get("Cache-Control") != CacheNone || strings.Contains(page, a) {
		t.Fatalf("GET: cache %q, or the page names the subscription", rec.Header().Get("Cache-Control"))
	}
	if !subscribed(t, st, a) {
		t.Fatal("a GET unsubscribed")
	}
	if rec := sendForm(t, h, http.MethodHead, link(a), "", nil); rec.Code != http.StatusOK || !subscribed(t, st, a) {
		t.Fatalf("HEAD: %d", rec.Code)
	}

	rec = sendForm(t, h, http.MethodPost, link(a), "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "unsubscribed") || subscribed(t, st, a) {
		t.Fatalf("urlencoded one-click: %d %s (still subscribed: %v)", rec.Code, rec.Body, subscribed(t, st, a))
	}
	ct, body := oneClickMultipart(t, "List-Unsubscribe", "One-Click")
	if rec := sendForm(t, h, http.MethodPost, link(b), ct, body); rec.Code != http.StatusOK || subscribed(t, st, b) {
		t.Fatalf("multipart one-click: %d %s", rec.Code, rec.Body)
	}
	// Done twice (a provider retries): the subscription is gone, said plainly.
	if rec := sendForm(t, h, http.MethodPost, link(b), "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click")); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "no subscription") {
		t.Fatalf("second one-click: %d %s", rec.Code, rec.Body)
	}
}

// Bad links and bad posts get a clear HTML page and change nothing; no
// page carries an error's internals.
func TestUnsubscribeRefusesBadLinks(t *testing.T) {
	s, st := subscriptionServer(t, 10)
	h := s.Handler()
	key := seedSiteKey(t, st, time.Now().Add(-time.Hour))
	id := newSub(t, h, 2)
	sign := func(k capability.Key, sub string, p capability.Purpose, exp time.Time) string {
		tok, err := capability.Sign(k, sub, p, exp)
		if err != nil {
			t.Fatal(err)
		}
		return "/unsubscribe/" + tok
	}
	good := sign(key, id, capability.Unsubscribe, time.Time{})
	other := capability.First(bytes.Repeat([]byte{9}, 32), time.Now())
	other.ID = "k9"
	oneClick := "List-Unsubscribe=One-Click"
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, method, path, ct, body string
		code                         int
		says                         string
	}{
		{"garbage", http.MethodGet, "/unsubscribe/not-a-token", "", "", http.StatusBadRequest, "not valid"},
		{"garbage post", http.MethodPost, "/unsubscribe/" + url.PathEscape("%%%"), form, oneClick, http.StatusBadRequest, "not valid"},
		{"tampered", http.MethodPost, good[:len(good)-2] + "AA", form, oneClick, http.StatusBadRequest, "not valid"},
		{"another site's key", http.MethodPost, sign(other, id, capability.Unsubscribe, time.Time{}), form, oneClick, http.StatusBadRequest, "not valid"},
		{"manage link", http.MethodPost, sign(key, id, capability.Manage, time.Time{}), form, oneClick, http.StatusBadRequest, "not valid"},
		{"expired", http.MethodGet, sign(key, id, capability.Unsubscribe, time.Now().Add(-time.Minute)), "", "", http.StatusBadRequest, "expired"},
		{"unknown subscriber", http.MethodGet, sign(key, "sub_nope", capability.Unsubscribe, time.Time{}), "", "", http.StatusNotFound, "no subscription"},
		{"no one-click field", http.MethodPost, good, form, "", http.StatusBadRequest, "List-Unsubscribe=One-Click"},
		{"wrong one-click value", http.MethodPost, good, form, "List-Unsubscribe=Yes", http.StatusBadRequest, "List-Unsubscribe=One-Click"},
		{"json body", http.MethodPost, good, "application/json", `{"List-Unsubscribe":"One-Click"}`, http.StatusUnsupportedMediaType, "must be a form"},
		{"oversize", http.MethodPost, good, form, oneClick + "&x=" + strings.Repeat("a", 64<<10), http.StatusRequestEntityTooLarge, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			rec := sendForm(t, h, tc.method, tc.path, tc.ct, body)
			page := rec.Body.String()
			if rec.Code != tc.code || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || !strings.Contains(page, tc.says) {
				t.Fatalf("%d %s: %s", rec.Code, rec.Header().Get("Content-Type"), page)
			}
			for _, leak := range []string{"capability", "signature", "key", "goroutine", id} {
				if strings.Contains(strings.ToLower(page), leak) {
					t.Fatalf("the page shows %q: %s", leak, page)
				}
			}
			if !subscribed(t, st, id) {
				t.Fatal("a refused request unsubscribed")
			}
		})
	}
}
