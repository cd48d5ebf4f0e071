package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/capability"
	"github.com/outpost-status/outpost/status/store"
)

// The manage page, /manage/{token}: an email subscriber's own page, linked
// from every mail. The token is a capability for the manage purpose,
// signed with the site key like the unsubscribe link's and, like it,
// without expiry: a mail's manage link works as long as its unsubscribe
// link does, and a key rotation ends both. So the token is the only
// authority, and whoever holds the mail holds it.
//
// A GET shows the subscriber's choices and state and changes nothing
// (mail scanners follow links). The page's forms post back to the same
// URL, from the site's own page only (formPost), each with an action:
// save (components, maintenance), pause, resume, unsubscribe, erase
// ("delete my data"). Each is one entry on the log, answered after its
// commit. An erasure also wipes the free pages of the data file, where
// the deleted records' earlier versions stay readable (store/erase.go).

// manageRoom serves /manage/{token}.
type manageRoom struct {
	st      *store.Store // read only: site keys and subscribers
	changes store.Log
	pages   managePages
	site    servedSite // the components, by group, as served
	now     func() time.Time
	siteURL string // the only origin the page's forms post from
	logger  *slog.Logger
}

// managePages renders the manage room's pages.
type managePages interface {
	formPages
	managePage(manageView) ([]byte, error)
}

// The form's actions.
const (
	actSave        = "save"
	actPause       = "pause"
	actResume      = "resume"
	actUnsubscribe = "unsubscribe"
	actErase       = "erase"
)

var (
	errManageInvalid = &pageError{http.StatusBadRequest, "Link not valid", "This link is not valid. Use the link from your most recent mail."}
	errManageExpired = &pageError{http.StatusBadRequest, "Link expired", "This link has expired. Use the link from your most recent mail."}
	errManageAction  = &pageError{http.StatusBadRequest, "Nothing changed", "The form sent no action this page knows. Reload the page and try again."}
	errManageFailed  = &pageError{http.StatusServiceUnavailable, "Nothing changed", "The change failed just now; nothing changed. Please try again in a minute."}
)

func (m *manageRoom) routes(e *echo.Echo) {
	e.GET("/manage/:token", m.show)
	e.POST("/manage/:token", m.act, formPost(m.siteURL))
}

// subscriber is the email subscriber a manage link names, or the page
// that says why there is none.
func (m *manageRoom) subscriber(token string) (store.Subscription, *pageError) {
	sub, pe := linkSubscriber(m.st, token, capability.Manage, m.now(), errManageInvalid, errManageExpired)
	if pe == nil && sub.Kind != store.KindEmail {
		return store.Subscription{}, errNoSub
	}
	return sub, pe
}

func (m *manageRoom) show(c echo.Context) error {
	sub, pe := m.subscriber(c.Param("token"))
	if pe != nil {
		return refuse(c, m.pages, pe)
	}
	return m.answer(c, http.StatusOK, sub, "", nil)
}

// answer shows the manage page for sub, with a notice or the form's
// errors; the page's forms post to itself.
func (m *manageRoom) answer(c echo.Context, code int, sub store.Subscription, notice string, errs []formError) error {
	snap := m.site.Served()
	if snap == nil {
		return refuse(c, m.pages, errTryAgain)
	}
	v := newManageView(sub, snap)
	v.Notice, v.Errors = notice, errs
	b, err := m.pages.managePage(v)
	if err != nil {
		return err
	}
	c.Response().Header()["Content-Security-Policy"] = hCSPForm
	return htmlPage(c, code, b)
}

func (m *manageRoom) act(c echo.Context) error {
	sub, pe := m.subscriber(c.Param("token"))
	if pe != nil {
		return refuse(c, m.pages, pe)
	}
	snap := m.site.Served()
	if snap == nil {
		return refuse(c, m.pages, errTryAgain)
	}
	ids := componentIDs(snap)
	limit := formLimit(len(ids))
	body, err := readForm(c, limit)
	vals, perr := url.ParseQuery(string(body))
	switch {
	case len(body) > limit:
		return refuse(c, m.pages, errTooLarge)
	case err != nil || perr != nil:
		return refuse(c, m.pages, errManageAction)
	}
	switch vals.Get("action") {
	case actSave:
		return m.save(c, sub, vals, ids)
	case actPause:
		return m.move(c, sub, store.SubPaused, store.SubActive, "Mails are paused: nothing is sent to you until you resume.")
	case actResume:
		return m.move(c, sub, store.SubActive, store.SubPaused, "Mails are resumed: you hear about the next incident.")
	case actUnsubscribe:
		return m.leave(c, sub, &store.SubscriptionChange{ID: sub.ID, Delete: true},
			"Unsubscribed", "You are unsubscribed: no more mails will be sent to you.")
	case actErase:
		return m.leave(c, sub, &store.SubscriptionChange{ID: sub.ID, Erase: true}, "Your data is deleted",
			"Your address, your choices and the records of the mails sent to you are deleted, old copies in the data file included. No more mails will be sent to you.")
	}
	return refuse(c, m.pages, errManageAction)
}

// save sets the subscriber's components and whether maintenance too.
func (m *manageRoom) save(c echo.Context, sub store.Subscription, vals url.Values, ids []string) error {
	var errs []formError
	bad := func(field, format string, args ...any) {
		errs = append(errs, formError{field, fmt.Sprintf(format, args...)})
	}
	comps := formComponents(vals, ids, bad)
	maint := formEvents(vals[fieldEvents], bad)
	if len(errs) > 0 {
		return m.answer(c, http.StatusBadRequest, sub, "", errs)
	}
	res, err := m.changes.Apply(store.Entry{At: m.now(), Preferences: &store.Preferences{ID: sub.ID, Components: comps, Maintenance: maint}})
	if pe := m.failed(err); pe != nil {
		return refuse(c, m.pages, pe)
	}
	return m.answer(c, http.StatusOK, res.Subscription, "Your choices are saved.", nil)
}

// move pauses or resumes; a subscriber already there is told so, not
// refused (a second click), and one in another state (not confirmed,
// stopped) is told what its state is.
func (m *manageRoom) move(c echo.Context, sub store.Subscription, to, from store.SubState, done string) error {
	if sub.State == to {
		return m.answer(c, http.StatusOK, sub, done, nil)
	}
	res, err := m.changes.Apply(store.Entry{At: m.now(), Subscription: &store.SubscriptionChange{ID: sub.ID, State: to, From: []store.SubState{from}}})
	if errors.Is(err, store.ErrSubState) {
		return m.answer(c, http.StatusConflict, sub, "Nothing changed: "+stateText(sub), nil)
	}
	if pe := m.failed(err); pe != nil {
		return refuse(c, m.pages, pe)
	}
	return m.answer(c, http.StatusOK, res.Subscription, done, nil)
}

// leave deletes the subscriber (and, for an erasure, wipes the file's
// free pages); the answer comes after the commit.
func (m *manageRoom) leave(c echo.Context, sub store.Subscription, ch *store.SubscriptionChange, title, msg string) error {
	res, err := m.changes.Apply(store.Entry{At: m.now(), Subscription: ch})
	if res.Unwiped != nil {
		// Deleted; the wipe is retried at the next commit. The operators
		// are told; the subscriber's answer stays true.
		m.logger.Error("erasure committed, free pages not wiped yet", slog.String("error", res.Unwiped.Error()))
	}
	if pe := m.failed(err); pe != nil {
		return refuse(c, m.pages, pe)
	}
	return htmlPage(c, http.StatusOK, m.pages.errorPage(title, msg))
}

// failed is the page for an entry's error; nil when there was none.
func (m *manageRoom) failed(err error) *pageError {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return errNoSub
	}
	m.logger.Error("manage page change failed", slog.String("error", err.Error()))
	return errManageFailed
}

// componentIDs are the ids of the components served.
func componentIDs(snap *status.Snapshot) []string {
	ids := make([]string, len(snap.Components))
	for i, comp := range snap.Components {
		ids[i] = comp.ID
	}
	return ids
}

// managePage renders the manage page.
func (r *renderer) managePage(v manageView) ([]byte, error) {
	return r.exec("manage", page{Manage: &v})
}
