package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/outpost-status/outpost/status/store"
)

// Confirming an email subscription (double opt-in). The confirmation
// mail's link is a random token, stored only as its hash. As with the
// unsubscribe links, a GET shows one button and changes nothing (mail
// scanners and link previews follow GETs); the button's POST confirms
// through the log. Unlike unsubscribing, no mailbox provider posts here,
// so the POST is the page's own form only (formPost: same site).

// maxConfirmToken bounds the token read from the path: ours are 43
// characters; anything much longer is not one, and is not hashed.
const maxConfirmToken = 128

// confirmRoom serves /confirm/{token}.
type confirmRoom struct {
	st      *store.Store // read only: the subscriber a link names
	changes store.Log
	pages   formPages
	now     func() time.Time
	site    string // site.url: the only origin a confirmation is posted from
}

var (
	errConfirmInvalid = &pageError{http.StatusNotFound, "Link not valid",
		"This confirmation link is not valid. Use the link from your most recent confirmation mail, or subscribe again."}
	errConfirmExpired = &pageError{http.StatusBadRequest, "Link expired",
		"This confirmation link has expired. Subscribe again to get a new one."}
)

// pageConfirmed answers a link that is confirmed, now or before: the same
// words, so a second click is not an error.
const pageConfirmed = "Your subscription is confirmed: you will get a mail when there is news."

func (r *confirmRoom) routes(e *echo.Echo) {
	e.GET("/confirm/:token", r.show)
	e.POST("/confirm/:token", r.confirm, formPost(r.site))
}

// confirmTokenHash is the token's stored form, "" for what cannot be a token.
func confirmTokenHash(token string) string {
	if token == "" || len(token) > maxConfirmToken {
		return ""
	}
	return store.HashToken(token)
}

func (r *confirmRoom) show(c echo.Context) error {
	sub, err := r.st.SubscriberByConfirmHash(confirmTokenHash(c.Param("token")))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return refuse(c, r.pages, errConfirmInvalid)
	case err != nil:
		return refuse(c, r.pages, errTryAgain)
	case sub.State != store.SubPending:
		return htmlPage(c, http.StatusOK, r.pages.errorPage("Already confirmed", "This subscription is already confirmed. "+pageConfirmed))
	case !r.now().Before(sub.ConfirmUntil):
		return refuse(c, r.pages, errConfirmExpired)
	}
	b, err := r.pages.buttonPage(buttonView{Title: "Confirm your subscription", Label: "Confirm",
		Message: "Press the button to start getting mails about incidents. Nothing changes until you do."})
	if err != nil {
		return err
	}
	c.Response().Header()["Content-Security-Policy"] = hCSPForm
	return htmlPage(c, http.StatusOK, b)
}

func (r *confirmRoom) confirm(c echo.Context) error {
	h := confirmTokenHash(c.Param("token"))
	if h == "" {
		return refuse(c, r.pages, errConfirmInvalid)
	}
	_, err := r.changes.Apply(store.Entry{At: r.now(), Confirm: &store.Confirmation{TokenHash: h}})
	switch {
	case err == nil:
		return htmlPage(c, http.StatusOK, r.pages.errorPage("Subscription confirmed", pageConfirmed))
	case errors.Is(err, store.ErrSubState):
		return htmlPage(c, http.StatusOK, r.pages.errorPage("Already confirmed", "This subscription is already confirmed. "+pageConfirmed))
	case errors.Is(err, store.ErrNotFound):
		return refuse(c, r.pages, errConfirmInvalid)
	case errors.Is(err, store.ErrTokenExpired):
		return refuse(c, r.pages, errConfirmExpired)
	}
	return refuse(c, r.pages, &pageError{http.StatusServiceUnavailable, "Nothing changed",
		"Confirming failed just now; please try again in a minute."})
}
