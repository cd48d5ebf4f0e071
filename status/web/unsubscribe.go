package web

import (
	"errors"
	"mime"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/outpost-status/outpost/status/capability"
	"github.com/outpost-status/outpost/status/store"
)

// Leaving by a capability link. The link's token is signed with the site
// key (status/capability) for one subscriber and the unsubscribe purpose,
// so it works with no login and is what a message carries: a webhook
// body's meta.unsubscribe, and an email's RFC 8058 List-Unsubscribe
// URL (which is why the POST takes exactly what mailbox providers send).
//
// A GET shows one button and changes nothing: mail scanners and link
// previews follow GETs. The button's POST, or a provider's one-click
// POST, deletes the subscription through the log and answers after the
// commit. There is no origin check and no form token: the link's token is
// the authority, and one-click POSTs come from the provider, not a page.
//
// oneClickPost (forms.go) refuses any other body type (415); leave reads
// the bounded form and checks it is the one-click body.

// formPages renders the HTML answers of a public form room. The renderer
// is one; a room holds this, never the Server.
type formPages interface {
	buttonPage(buttonView) ([]byte, error)
	errorPage(title, msg string) []byte
}

// leaveRoom serves capability unsubscribe links, for webhook and email
// subscribers alike (a deletion is the same entry for both kinds).
type leaveRoom struct {
	st      *store.Store // read only: site keys and subscriptions
	changes store.Log
	pages   formPages
	now     func() time.Time
}

// maxOneClickBody bounds a one-click POST: the form is one short field.
const maxOneClickBody = 8 << 10

func (l *leaveRoom) routes(e *echo.Echo) {
	e.GET("/unsubscribe/:token", l.show)
	e.POST("/unsubscribe/:token", l.leave, oneClickPost)
}

// pageError is a refusal shown as a page.
type pageError struct {
	code       int
	title, msg string
}

var (
	errLinkInvalid = &pageError{http.StatusBadRequest, "Link not valid", "This unsubscribe link is not valid. Use the link from your most recent message."}
	errLinkExpired = &pageError{http.StatusBadRequest, "Link expired", "This unsubscribe link has expired. Use the link from your most recent message."}
	errNoSub       = &pageError{http.StatusNotFound, "Not subscribed", "There is no subscription for this link: you are not subscribed, or you have unsubscribed already."}
	errNotOneClick = &pageError{http.StatusBadRequest, "Nothing changed", "Unsubscribing takes a form post of List-Unsubscribe=One-Click, as the button on this page sends."}
	errTooLarge    = &pageError{http.StatusRequestEntityTooLarge, "Request too large", "The form sent was too large."}
	// errTryAgain: the store could not be read; nothing was decided.
	errTryAgain = &pageError{http.StatusServiceUnavailable, "Try again", "This link cannot be checked just now. Please try again in a minute."}
)

// subscriber is the subscription a link names, or the page that says why
// there is none.
func (l *leaveRoom) subscriber(token string) (string, *pageError) {
	sub, pe := linkSubscriber(l.st, token, capability.Unsubscribe, l.now(), errLinkInvalid, errLinkExpired)
	return sub.ID, pe
}

// linkSubscriber is the subscriber a capability link for purpose names,
// or the page that says why there is none (invalid and expired: the
// room's own words for a bad or an expired token).
func linkSubscriber(st *store.Store, token string, purpose capability.Purpose, now time.Time, invalid, expired *pageError) (store.Subscription, *pageError) {
	keys, err := st.SiteKeys()
	if err != nil {
		return store.Subscription{}, errTryAgain
	}
	id, err := capability.Verify(keys, token, purpose, now)
	switch {
	case errors.Is(err, capability.ErrExpired):
		return store.Subscription{}, expired
	case err != nil:
		return store.Subscription{}, invalid
	}
	sub, err := st.Subscription(id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Subscription{}, errNoSub
	case err != nil:
		return store.Subscription{}, errTryAgain
	}
	return sub, nil
}

func (l *leaveRoom) show(c echo.Context) error {
	if _, pe := l.subscriber(c.Param("token")); pe != nil {
		return refuse(c, l.pages, pe)
	}
	b, err := l.pages.buttonPage(buttonView{Title: "Unsubscribe", Label: "Unsubscribe",
		Message: "Press the button to stop these notifications. Nothing changes until you do.",
		Field:   "List-Unsubscribe", Value: "One-Click"})
	if err != nil {
		return err
	}
	c.Response().Header()["Content-Security-Policy"] = hCSPForm
	return htmlPage(c, http.StatusOK, b)
}

func (l *leaveRoom) leave(c echo.Context) error {
	id, pe := l.subscriber(c.Param("token"))
	if pe != nil {
		return refuse(c, l.pages, pe)
	}
	if pe := oneClick(c); pe != nil {
		return refuse(c, l.pages, pe)
	}
	_, err := l.changes.Apply(store.Entry{At: l.now(), Subscription: &store.SubscriptionChange{ID: id, Delete: true}})
	if errors.Is(err, store.ErrNotFound) {
		return refuse(c, l.pages, errNoSub)
	} else if err != nil {
		return refuse(c, l.pages, &pageError{http.StatusServiceUnavailable, "Nothing changed", "Unsubscribing failed just now; you are still subscribed. Please try again in a minute."})
	}
	return htmlPage(c, http.StatusOK, l.pages.errorPage("Unsubscribed", "You are unsubscribed: no more notifications will be sent here."))
}

// oneClick reads the bounded form and checks it is RFC 8058's one-click
// body, urlencoded or multipart.
func oneClick(c echo.Context) *pageError {
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxOneClickBody)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	err := r.ParseForm() // urlencoded; oneClickPost let nothing but a form in
	if mt == "multipart/form-data" {
		err = r.ParseMultipartForm(maxOneClickBody)
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return errTooLarge
	case err != nil || r.PostForm.Get("List-Unsubscribe") != "One-Click":
		return errNotOneClick
	}
	return nil
}

// refuse answers a link room's refusal as a page.
func refuse(c echo.Context, pages formPages, pe *pageError) error {
	return htmlPage(c, pe.code, pages.errorPage(pe.title, pe.msg))
}

// htmlPage answers a link room's page, never cached (it speaks of one
// subscriber's link).
func htmlPage(c echo.Context, code int, b []byte) error {
	c.Response().Header().Set("Cache-Control", CacheNone)
	return c.Blob(code, "text/html; charset=utf-8", b)
}
