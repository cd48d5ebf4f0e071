package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/email"
)

// EmailSubscriber starts an email subscription (the subscriber
// pipeline's: a confirmation mail, double opt-in). It must answer the
// same for an address it knows as for a new one, and keep its own
// per-recipient limits: the page says the same words either way.
type EmailSubscriber interface {
	SubscribeEmail(ctx context.Context, r email.Request) error
}

// Profile is a public channel's account, listed on /subscribe.
type Profile struct {
	Kind string // the channel's kind: mastodon, x, bluesky, …
	URL  string // https
}

// hCSPForm is csp for a page that carries a form posting to this site.
var hCSPForm = []string{strings.Replace(csp, "form-action 'none'", "form-action 'self'", 1)}

// maxSubscribeBase is the subscribe form's body limit before its
// component boxes; each ticked box adds at most maxPerComponent
// ("component=" and an id of at most 63 characters, escaped).
const (
	maxSubscribeBase = 8 << 10
	maxPerComponent  = 80
)

// formLimit is the body limit of a form that lists n components (the
// subscribe form, the manage page's).
func formLimit(n int) int { return maxSubscribeBase + maxPerComponent*n }

// readForm reads a form's body, up to limit+1 bytes (more is the caller's
// to refuse), and drains an oversized rest within maxDrain, so the client
// gets the answer, not a reset.
func readForm(c echo.Context, limit int) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, int64(limit)+1))
	_, _ = io.CopyN(io.Discard, c.Request().Body, maxDrain)
	return body, err
}

// subscribeRoom serves /subscribe: the page, and the email form's POST.
type subscribeRoom struct {
	s   *Server
	lim *addrLimiter
}

func (m *subscribeRoom) routes(e *echo.Echo) {
	e.GET("/subscribe", m.page)
	if m.s.o.Email == nil {
		// No form without a subscriber: nothing to post to (404, not 405).
		e.POST("/subscribe", func(echo.Context) error { return echo.ErrNotFound })
		return
	}
	e.POST("/subscribe", m.submit, formPost(m.s.o.Site.URL))
}

// page is the subscribe page: the email form (when on) and every other
// way to follow. It is the same for everyone (no per-visitor token), so
// it is rendered once per set of components and groups, like the other
// on-demand pages: asking for it again and again costs no rendering.
func (m *subscribeRoom) page(c echo.Context) error {
	snap, err := m.snapshot()
	if err != nil {
		return err
	}
	// Component names are in the cache's version; which group holds
	// which component is not, so the key names both.
	key := make([]byte, 0, 64)
	key = append(key, "subscribe"...)
	for _, g := range snap.Groups {
		key = append(append(key, 0), g.Name...)
		for _, comp := range g.Components {
			key = append(append(key, 1), comp.ID...)
		}
	}
	p, err := m.s.lazy.get(string(key), func() ([]byte, error) { return m.render(m.view(snap)) })
	if err != nil {
		return err
	}
	if m.s.o.Email != nil {
		c.Response().Header()["Content-Security-Policy"] = hCSPForm
	}
	p.ServeHTTP(c.Response(), c.Request())
	return nil
}

func (m *subscribeRoom) submit(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", CacheNone)
	if !m.lim.get(c.RealIP()).Allow() {
		_, _ = io.CopyN(io.Discard, c.Request().Body, maxDrain)
		c.Response().Header().Set("Retry-After", "60")
		return echo.NewHTTPError(http.StatusTooManyRequests, "Too many subscriptions from this address; wait a minute and try again.")
	}
	snap, err := m.snapshot()
	if err != nil {
		return err
	}
	ids := componentIDs(snap)
	limit := formLimit(len(ids))
	body, err := readForm(c, limit)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read; try again.")
	}
	f := parseSubscribeForm(body, ids, limit)
	v := m.view(snap)
	if len(f.Errors) > 0 {
		v.refill(body, f.Errors)
		return m.answer(c, http.StatusBadRequest, v)
	}
	if !f.Bot {
		if err := m.s.o.Email.SubscribeEmail(c.Request().Context(), f.Req); err != nil {
			// The address is the subscriber's business: it is not logged.
			m.s.o.Logger.Error("email subscription failed", slog.String("error", err.Error()))
			return echo.NewHTTPError(http.StatusServiceUnavailable, "Your subscription could not be taken just now; please try again in a few minutes.")
		}
	}
	v.Done, v.Form = true, false
	return m.answer(c, http.StatusOK, v)
}

func (m *subscribeRoom) snapshot() (*status.Snapshot, error) {
	snap := m.s.Served()
	if snap == nil {
		return nil, echo.NewHTTPError(http.StatusServiceUnavailable, "starting up")
	}
	return snap, nil
}

// answer renders the page; one carrying the form may post to this site.
func (m *subscribeRoom) answer(c echo.Context, code int, v *subscribeView) error {
	b, err := m.render(v)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	if v.Form {
		h["Content-Security-Policy"] = hCSPForm
	}
	h.Set("Cache-Control", CacheNone)
	return c.HTMLBlob(code, b)
}

func (m *subscribeRoom) render(v *subscribeView) ([]byte, error) {
	return m.s.r.exec("subscribe", page{Path: "/subscribe", Subscribe: v,
		Description: "Ways to hear about incidents and maintenance: email, feeds, calendar and more."})
}

// view is the page for snap, the form as first shown: every component
// ticked, incidents and maintenance.
func (m *subscribeRoom) view(snap *status.Snapshot) *subscribeView {
	v := &subscribeView{Form: m.s.o.Email != nil, Events: "all", Webhooks: m.s.o.Webhooks != nil, Privacy: privacy()}
	v.Groups = choiceGroups(snap, func(string) bool { return true })
	for _, p := range m.s.o.Follow {
		v.Follow = append(v.Follow, followView{Name: networkName(p.Kind), URL: p.URL,
			Text: strings.TrimPrefix(p.URL, "https://")})
	}
	return v
}

// networkName is how a channel's kind is written for people.
func networkName(kind string) string {
	switch kind {
	case "x":
		return "X"
	case "bluesky":
		return "Bluesky"
	case "mastodon":
		return "Mastodon"
	}
	return kind
}

// subscribeView is the subscribe page.
type subscribeView struct {
	Form, Done, Webhooks bool
	Errors               []formError
	Email, Events        string
	Groups               []subscribeGroup
	Follow               []followView
	Privacy              privacyView
}

type subscribeGroup struct {
	Name       string
	Components []subscribeBox
}

type subscribeBox struct {
	ID, Name string
	Checked  bool
}

type followView struct{ Name, URL, Text string }

// ErrorFor is the message for field, "" when it is fine.
func (v *subscribeView) ErrorFor(field string) string { return errorFor(v.Errors, field) }

// refill shows a refused form again as it was sent, with its messages.
func (v *subscribeView) refill(body []byte, errs []formError) {
	v.Errors = errs
	vals, _ := url.ParseQuery(string(body)) // what could be read, even past a bad part
	v.Email = clip(strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, vals.Get(fieldEmail)), email.MaxAddress)
	if vals.Get(fieldEvents) == "incidents" {
		v.Events = "incidents"
	}
	if vals.Get(fieldListed) == "" {
		return
	}
	ticked := map[string]bool{}
	for _, id := range vals[fieldComponent] {
		ticked[id] = true
	}
	for gi := range v.Groups {
		for ci := range v.Groups[gi].Components {
			b := &v.Groups[gi].Components[ci]
			b.Checked = ticked[b.ID]
		}
	}
}

// Follow lists the public channels' accounts, as configured (no network
// call: the subscribe page shows what the operator wrote).
func Follow(chs []config.Channel) []Profile {
	var out []Profile
	for _, ch := range chs {
		if ch.ProfileURL != "" && !ch.Operators() {
			out = append(out, Profile{Kind: ch.Kind, URL: ch.ProfileURL})
		}
	}
	return out
}
