package web

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/capability"
	"github.com/outpost-status/outpost/status/store"
)

// manageFixture is a server with email on and a site key, and a confirmed
// email subscriber id with its manage link.
type manageFixture struct {
	s   *Server
	st  *store.Store
	h   http.Handler
	key capability.Key
}

func newManageFixture(t *testing.T) *manageFixture {
	t.Helper()
	s := subscribeServer(t, &fakeSubscriber{})
	f := &manageFixture{s: s, st: s.o.Store, h: s.Handler()}
	f.key = seedSiteKey(t, f.st, time.Now().Add(-time.Hour))
	return f
}

// confirmed stores a confirmed email subscriber at id@example.net.
func (f *manageFixture) confirmed(t *testing.T, id string) {
	t.Helper()
	seedEmail(t, f.st, id, "tok-"+id, time.Now().Add(time.Hour))
	if _, err := f.st.Apply(store.Entry{At: time.Now(), Confirm: &store.Confirmation{TokenHash: store.HashToken("tok-" + id)}}); err != nil {
		t.Fatal(err)
	}
}

func (f *manageFixture) link(t *testing.T, id string, p capability.Purpose, exp time.Time) string {
	t.Helper()
	tok, err := capability.Sign(f.key, id, p, exp)
	if err != nil {
		t.Fatal(err)
	}
	return "/manage/" + tok
}

func (f *manageFixture) sub(t *testing.T, id string) (store.Subscription, bool) {
	t.Helper()
	sub, err := f.st.Subscription(id)
	if errors.Is(err, store.ErrNotFound) {
		return sub, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return sub, true
}

var ownSite = []string{"Origin", "https://status.acme.test"}

// The manage page: a GET shows the subscriber's choices and state and
// changes nothing; each form's same-site POST makes its change through
// the log, read back from the store; a cross-site POST changes nothing.
func TestManagePage(t *testing.T) {
	f := newManageFixture(t)
	f.confirmed(t, "em_m")
	link := f.link(t, "em_m", capability.Manage, time.Time{})
	before, _ := f.sub(t, "em_m")

	rec := sendForm(t, f.h, http.MethodGet, link, "", nil)
	page := rec.Body.String()
	if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != CacheNone {
		t.Fatalf("GET: %d %s", rec.Code, page)
	}
	for _, want := range []string{">Save choices</button>", ">Pause mails</button>", ">Unsubscribe</button>", ">Delete my data</button>",
		`<legend>Platform</legend>`, `value="api" checked`, `value="db" checked`, `value="incidents" checked`, "e…@example.net", "Your data", "30 days", "7 days"} {
		if !strings.Contains(page, want) {
			t.Errorf("GET: the page lacks %q", want)
		}
	}
	if strings.Contains(page, "em_m@example.net") || strings.Contains(page, "em_m") {
		t.Error("GET: the page shows the whole address or the subscriber's id")
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("GET: CSP %q does not let the forms post to their own page", csp)
	}
	if after, _ := f.sub(t, "em_m"); after.State != before.State || after.StateAt != before.StateAt {
		t.Fatal("a GET changed the subscriber")
	}

	for _, tc := range []struct {
		name, form string
		hdr        []string
		code       int
		says       string
		check      func(store.Subscription, bool) bool
	}{
		{"cross-site", "action=pause", []string{"Origin", "https://evil.example"}, http.StatusForbidden, "own page",
			func(s store.Subscription, ok bool) bool { return ok && s.State == store.SubActive }},
		{"sibling site", "action=erase", []string{"Sec-Fetch-Site", "same-site"}, http.StatusForbidden, "own page",
			func(s store.Subscription, ok bool) bool { return ok }},
		{"save", "action=save&listed=1&component=db&events=incidents", ownSite, http.StatusOK, "choices are saved",
			func(s store.Subscription, ok bool) bool {
				return ok && len(s.Components) == 1 && s.Components[0] == "db" && !s.Maintenance
			}},
		{"save nothing ticked", "action=save&listed=1&events=all", ownSite, http.StatusBadRequest, "Choose at least one component",
			func(s store.Subscription, ok bool) bool { return ok && len(s.Components) == 1 && !s.Maintenance }},
		{"save unknown component", "action=save&listed=1&component=nope", ownSite, http.StatusBadRequest, "Unknown component",
			func(s store.Subscription, ok bool) bool { return ok && len(s.Components) == 1 }},
		{"save all", "action=save&listed=1&component=api&component=web&component=db&events=all", ownSite, http.StatusOK, "choices are saved",
			func(s store.Subscription, ok bool) bool { return ok && s.Components == nil && s.Maintenance }},
		{"pause", "action=pause", ownSite, http.StatusOK, "paused",
			func(s store.Subscription, ok bool) bool { return ok && s.State == store.SubPaused }},
		{"pause twice", "action=pause", ownSite, http.StatusOK, "paused",
			func(s store.Subscription, ok bool) bool { return ok && s.State == store.SubPaused }},
		{"resume", "action=resume", ownSite, http.StatusOK, "resumed",
			func(s store.Subscription, ok bool) bool { return ok && s.State == store.SubActive }},
		{"unknown action", "action=explode", ownSite, http.StatusBadRequest, "Nothing changed",
			func(s store.Subscription, ok bool) bool { return ok && s.State == store.SubActive }},
		{"oversized", "action=save&listed=1&component=" + strings.Repeat("a", 20<<10), ownSite, http.StatusRequestEntityTooLarge, "too large",
			func(s store.Subscription, ok bool) bool { return ok }},
		{"unsubscribe", "action=unsubscribe", ownSite, http.StatusOK, "unsubscribed",
			func(_ store.Subscription, ok bool) bool { return !ok }},
		{"after unsubscribing", "action=pause", ownSite, http.StatusNotFound, "no subscription",
			func(_ store.Subscription, ok bool) bool { return !ok }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, b := post(t, f.h, link, tc.form, "203.0.113.7:4000", tc.hdr...)
			if r.StatusCode != tc.code || !strings.Contains(b, tc.says) {
				t.Fatalf("%d: %s", r.StatusCode, b)
			}
			if !tc.check(f.sub(t, "em_m")) {
				sub, ok := f.sub(t, "em_m")
				t.Fatalf("in the store: %+v (exists: %v)", sub, ok)
			}
			if r.StatusCode == http.StatusOK && strings.Contains(b, "<form") && !strings.Contains(r.Header.Get("Content-Security-Policy"), "form-action 'self'") {
				t.Fatalf("an answer with forms has CSP %q", r.Header.Get("Content-Security-Policy"))
			}
			for _, leak := range []string{"goroutine", "em_m", "bolt", "token"} {
				if strings.Contains(b, leak) {
					t.Fatalf("the page shows %q: %s", leak, b)
				}
			}
		})
	}
}

// Bad links get the same clear pages as the other rooms' and change
// nothing: garbage, a forged signature, an unsubscribe token (another
// purpose), an expired token, a subscriber that is gone, a webhook
// subscriber (no manage page).
func TestManageRefusesBadLinks(t *testing.T) {
	f := newManageFixture(t)
	f.confirmed(t, "em_b")
	other := capability.First(bytes.Repeat([]byte{2}, 32), time.Now())
	forged, err := capability.Sign(other, "em_b", capability.Manage, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Apply(store.Entry{At: time.Now(), Subscribe: &store.NewSubscription{Sub: store.Subscription{ID: "wh_x", Kind: store.KindWebhook,
		URL: "https://hooks.example.com/x", State: store.SubActive, Client: "c", CreatedAt: time.Now()}}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		code       int
		says       string
	}{
		{"garbage", "/manage/not-a-token", http.StatusBadRequest, "not valid"},
		{"oversized", "/manage/" + strings.Repeat("A", 2000), http.StatusBadRequest, "not valid"},
		{"forged", "/manage/" + forged, http.StatusBadRequest, "not valid"},
		{"other purpose", f.link(t, "em_b", capability.Unsubscribe, time.Time{}), http.StatusBadRequest, "not valid"},
		{"expired", f.link(t, "em_b", capability.Manage, time.Now().Add(-time.Minute)), http.StatusBadRequest, "expired"},
		{"gone", f.link(t, "em_nobody", capability.Manage, time.Time{}), http.StatusNotFound, "no subscription"},
		{"webhook subscriber", f.link(t, "wh_x", capability.Manage, time.Time{}), http.StatusNotFound, "no subscription"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, m := range []string{http.MethodGet, http.MethodPost} {
				var code int
				var b string
				if m == http.MethodGet {
					rec := sendForm(t, f.h, m, tc.path, "", nil)
					code, b = rec.Code, rec.Body.String()
				} else {
					r, body := post(t, f.h, tc.path, "action=erase", "203.0.113.7:4000", ownSite...)
					code, b = r.StatusCode, body
				}
				if code != tc.code || !strings.Contains(b, tc.says) || strings.Contains(b, "<form") {
					t.Fatalf("%s: %d %s", m, code, b)
				}
			}
		})
	}
	if sub, ok := f.sub(t, "em_b"); !ok || sub.State != store.SubActive {
		t.Fatalf("a bad link changed the subscriber: %+v (exists %v)", sub, ok)
	}
}

// "Delete my data" from the manage page: after the answer, the address is
// in no byte of the data file (its earlier versions in freed pages
// included), while another subscriber's is.
func TestManageDeleteMyData(t *testing.T) {
	f := newManageFixture(t)
	f.confirmed(t, "em_gone")
	f.confirmed(t, "em_kept")
	link := f.link(t, "em_gone", capability.Manage, time.Time{})
	// Changes leave earlier versions of the row in the file.
	for _, form := range []string{"action=pause", "action=resume", "action=save&listed=1&component=api&events=incidents"} {
		if r, b := post(t, f.h, link, form, "203.0.113.7:4000", ownSite...); r.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", form, r.StatusCode, b)
		}
	}
	path := f.st.Path()
	if raw, _ := os.ReadFile(path); !bytes.Contains(raw, []byte("em_gone@example.net")) {
		t.Fatal("fixture: the address is not in the file")
	}
	r, b := post(t, f.h, link, "action=erase", "203.0.113.7:4000", ownSite...)
	if r.StatusCode != http.StatusOK || !strings.Contains(b, "deleted") {
		t.Fatalf("erase: %d %s", r.StatusCode, b)
	}
	if _, ok := f.sub(t, "em_gone"); ok {
		t.Fatal("the subscriber is still there")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(bytes.ToLower(raw), []byte("em_gone@example.net")); n > 0 {
		t.Fatalf("after the answer, the data file holds the erased address %d times", n)
	}
	if !bytes.Contains(raw, []byte("em_kept@example.net")) {
		t.Fatal("the other subscriber's address is gone too")
	}
}

// The manage page as a person sees it: a confirmed subscriber's, and a
// paused one's after saving (the notice, the resume form).
func TestGoldenManagePage(t *testing.T) {
	f := newManageFixture(t)
	f.confirmed(t, "em_g")
	link := f.link(t, "em_g", capability.Manage, time.Time{})
	golden(t, "manage.html", sendForm(t, f.h, http.MethodGet, link, "", nil).Body.String())
	if r, _ := post(t, f.h, link, "action=pause", "203.0.113.7:4000", ownSite...); r.StatusCode != http.StatusOK {
		t.Fatalf("pause: %d", r.StatusCode)
	}
	_, b := post(t, f.h, link, "action=save&listed=1&component=api&events=all", "203.0.113.7:4000", ownSite...)
	golden(t, "manage-paused-saved.html", b)
}

// The privacy notice is on /subscribe when email is on (with the real
// retention), and absent when there is no email form.
func TestPrivacyNoticeOnSubscribe(t *testing.T) {
	with := body(t, get(t, subscribeServer(t, &fakeSubscriber{}).Handler(), "/subscribe"))
	for _, want := range []string{`<h3 id="privacy">Your data</h3>`, "for 30 days", "forgotten after 7 days", "delete\n  your data at once"} {
		if !strings.Contains(with, want) {
			t.Errorf("/subscribe lacks %q", want)
		}
	}
	if without := body(t, get(t, subscribeServer(t, nil).Handler(), "/subscribe")); strings.Contains(without, `id="privacy"`) {
		t.Error("/subscribe without email has a privacy notice about mail")
	}
}

// /subscribe is rendered once per set of groups and components: a
// component moved to another group (the group names unchanged) shows
// under its new group at once, not under the old one until a restart.
func TestSubscribePageFollowsAComponentToItsNewGroup(t *testing.T) {
	s := subscribeServer(t, &fakeSubscriber{})
	h := s.Handler()
	if b := body(t, get(t, h, "/subscribe")); !inGroup(b, "Platform", `value="web"`) {
		t.Fatalf("fixture: web is not under Platform:\n%s", b)
	}
	moved := *s.Served()
	moved.Groups = nil
	for _, g := range s.Served().Groups {
		g.Components = slices.DeleteFunc(slices.Clone(g.Components), func(c status.ComponentView) bool { return c.ID == "web" })
		moved.Groups = append(moved.Groups, g)
	}
	for i, g := range moved.Groups {
		if g.Name == "" {
			for _, c := range s.Served().Components {
				if c.ID == "web" {
					moved.Groups[i].Components = append(moved.Groups[i].Components, c)
				}
			}
		}
	}
	if err := s.Update(&moved); err != nil {
		t.Fatal(err)
	}
	b := body(t, get(t, h, "/subscribe"))
	if inGroup(b, "Platform", `value="web"`) || !inGroup(b, "Other components", `value="web"`) {
		t.Fatalf("web moved to the ungrouped components, but the page shows:\n%s", b)
	}
}

// inGroup reports whether the fieldset whose legend is group holds want.
func inGroup(page, group, want string) bool {
	_, rest, ok := strings.Cut(page, "<legend>"+group+"</legend>")
	if !ok {
		return false
	}
	fieldset, _, _ := strings.Cut(rest, "</fieldset>")
	return strings.Contains(fieldset, want)
}
