package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/webhook"
)

// subscriptionRoutes mounts the public subscription API. The owner's
// unsubscribe token, or an admin token, authorises changes to one
// subscription; listing all of them is for admins.
func (w *subscriptionsRoom) routes(e *echo.Echo) {
	lim := newAddrLimiter(6*time.Second, 10) // 10 at once, then 10 a minute
	fails := newFailLimiter()
	limited := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set("Cache-Control", CacheNone)
			if !lim.get(c.RealIP()).Allow() {
				c.Response().Header().Set("Retry-After", "10")
				return echo.NewHTTPError(http.StatusTooManyRequests, "too many subscription requests from this address; wait a little")
			}
			return next(c)
		}
	}
	// Creating is rate-limited per address; the rest needs a token, and
	// failed token attempts are limited per address.
	e.POST("/api/v1/subscriptions", func(c echo.Context) error { return w.subscribe(c, fails) }, limited)
	e.DELETE("/api/v1/subscriptions/:id", w.subAction(fails, false, w.unsubscribe))
	if w.wh != nil { // signing secrets and test deliveries are webhooks' own
		e.POST("/api/v1/subscriptions/:id/rotate", w.subAction(fails, false, w.rotate))
		e.POST("/api/v1/subscriptions/:id/ping", w.subAction(fails, false, w.pingSub), limited)
	}
	e.POST("/api/v1/subscriptions/:id/enable", w.subAction(fails, false, w.enableSub))
	e.GET("/api/v1/subscriptions/:id", w.subAction(fails, false, w.showSub))
	e.GET("/api/v1/subscriptions/:id/deliveries", w.subAction(fails, false, w.subLog))
	e.POST("/api/v1/subscriptions/:id/pause", w.subAction(fails, true, w.pauseSub))
	e.POST("/api/v1/subscriptions/:id/disable", w.subAction(fails, true, w.disableSub))
	e.GET("/api/v1/subscriptions/:id/export", w.subAction(fails, true, w.exportSub))
	if w.admin != nil {
		e.GET("/api/v1/subscriptions", w.listSubs, tokenAuth(w.admin, fails))
	}
}

const maxSubscriptionBody = 8 << 10

func (w *subscriptionsRoom) subscribe(c echo.Context, fails *addrLimiter) error {
	// Read whole and bounded, whatever Content-Length says (or doesn't).
	body, err := readBody(c, maxSubscriptionBody)
	if err != nil {
		return err
	}
	req, err := w.subscribeKind(c, body) // an email subscription is answered there
	if err != nil || req == nil {
		return err
	}
	if c.Request().Header.Get("Authorization") != "" {
		return w.addSub(c, fails, *req)
	}
	created, err := w.wh.Subscribe(*req, clientKey(c.RealIP()))
	if err != nil {
		return subError(err)
	}
	c.Response().Header().Set("Location", "/api/v1/subscriptions/"+created.ID)
	return c.JSON(http.StatusCreated, created)
}

// addSub is an operator adding a subscriber with an admin token: active
// at once, no challenge, audited (as Statuspage's operators add webhook
// subscribers). A bearer token that is not a writing admin token is
// refused rather than taken for a public request.
func (w *subscriptionsRoom) addSub(c echo.Context, fails *addrLimiter, req webhook.Request) error {
	t := w.admin.match(c.Request())
	switch {
	case t == nil && fails.refused(c.RealIP()): // only failures count, as on every admin route
		return echo.NewHTTPError(http.StatusTooManyRequests, "too many failed attempts from this address; wait a minute")
	case t == nil:
		fails.failed(c.RealIP())
		return echo.NewHTTPError(http.StatusUnauthorized, "the bearer token is not an admin token; subscribe without one")
	case t.ReadOnly:
		return echo.NewHTTPError(http.StatusForbidden, "this token is read-only")
	}
	created, err := w.wh.Add(req, status.AuditEntry{At: w.now(), Actor: t.Name, Action: "create_subscription"})
	if err != nil {
		return subError(err)
	}
	c.Response().Header().Set("Location", "/api/v1/subscriptions/"+created.ID)
	return c.JSON(http.StatusCreated, created)
}

func subError(err error) error {
	var we *webhook.Error
	switch {
	case errors.As(err, &we):
		return fieldError(we.Field, "%s", we.Error())
	case errors.Is(err, store.ErrTooManySubscriptions):
		return echo.NewHTTPError(http.StatusTooManyRequests, "this address holds the most subscriptions allowed; delete one first")
	case errors.Is(err, store.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound, "no such subscription")
	case errors.Is(err, webhook.ErrState):
		return echo.NewHTTPError(http.StatusConflict, err.Error())
	}
	return err
}

// subAction authorises a request on one subscription: its owner (the
// unsubscribe token) or an admin token (a writing one for changes);
// adminOnly refuses owners.
func (w *subscriptionsRoom) subAction(fails *addrLimiter, adminOnly bool, h func(c echo.Context, admin bool) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", CacheNone)
		if t := w.admin.match(c.Request()); t != nil {
			if t.ReadOnly && c.Request().Method != http.MethodGet {
				return echo.NewHTTPError(http.StatusForbidden, "this token is read-only")
			}
			c.Set(tokenKey, t)
			return h(c, true)
		}
		got, _ := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
		if w.wh != nil && w.wh.Owner(c.Param("id"), got) {
			if adminOnly {
				return echo.NewHTTPError(http.StatusForbidden, "only an admin can do this")
			}
			return h(c, false)
		}
		if fails.refused(c.RealIP()) { // only failures count, and only they wait
			return echo.NewHTTPError(http.StatusTooManyRequests, "too many failed attempts from this address; wait a minute")
		}
		fails.failed(c.RealIP())
		if adminOnly {
			return echo.NewHTTPError(http.StatusUnauthorized, "an admin bearer token is required")
		}
		return echo.NewHTTPError(http.StatusUnauthorized, "the subscription's unsubscribe token (or an admin token) is required as a bearer token")
	}
}

// unsubscribe erases a subscriber and its deliveries at once: an owner's
// unsubscribing, an operator's erasure (a data-protection request). An
// erasure, not a plain delete, so no earlier version of the row stays
// readable in the file's freed pages (store/erase.go).
func (w *subscriptionsRoom) unsubscribe(c echo.Context, _ bool) error {
	if _, err := w.change(c, store.SubscriptionChange{ID: c.Param("id"), Erase: true}, "delete_subscription"); err != nil {
		return subError(err)
	}
	return c.NoContent(http.StatusNoContent)
}

func (w *subscriptionsRoom) rotate(c echo.Context, admin bool) error {
	id := c.Param("id")
	if err := w.webhookSub(id); err != nil {
		return err
	}
	secret, until, err := w.wh.Rotate(id, w.auditSub(c, admin, "rotate_subscription_secret", id)...)
	if err != nil {
		return subError(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"id": id, "secret": secret, "previous_secrets_valid_until": until.UTC()})
}

// enableSub re-enables a paused or disabled subscriber; the failures
// that disabled it no longer count.
func (w *subscriptionsRoom) enableSub(c echo.Context, admin bool) error {
	sub, err := w.change(c, store.SubscriptionChange{ID: c.Param("id"), State: store.SubActive,
		From: []store.SubState{store.SubPaused, store.SubDisabled}}, "enable_subscription")
	if err != nil {
		return subError(err)
	}
	return c.JSON(http.StatusOK, view(sub, admin))
}

func (w *subscriptionsRoom) pingSub(c echo.Context, _ bool) error {
	if err := w.webhookSub(c.Param("id")); err != nil {
		return err
	}
	msg, err := w.wh.Ping(c.Param("id"))
	if err != nil {
		return subError(err)
	}
	return c.JSON(http.StatusAccepted, map[string]any{"id": c.Param("id"), "message_id": msg})
}

func (w *subscriptionsRoom) pauseSub(c echo.Context, admin bool) error {
	sub, err := w.change(c, store.SubscriptionChange{ID: c.Param("id"), State: store.SubPaused,
		From: []store.SubState{store.SubActive}}, "pause_subscription")
	if err != nil {
		return subError(err)
	}
	return c.JSON(http.StatusOK, view(sub, admin))
}

func (w *subscriptionsRoom) showSub(c echo.Context, admin bool) error {
	sub, err := w.st.Subscription(c.Param("id"))
	if err != nil {
		return subError(err)
	}
	return c.JSON(http.StatusOK, view(sub, admin))
}

// subLog is a subscription's delivery log, newest first, each delivery
// with its attempts (status code, latency, reason; the raw error for
// admins).
func (w *subscriptionsRoom) subLog(c echo.Context, admin bool) error {
	limit := 100
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return fieldError("limit", "limit must be a number from 1 to 1000")
		}
		limit = n
	}
	id := c.Param("id")
	if _, err := w.st.Subscription(id); err != nil {
		return subError(err)
	}
	log, err := w.st.WebhookLog(id, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"deliveries": webhook.LogOf(log, admin)})
}

// auditSub is the audit entry of a change made with an admin token,
// committed with the change (owners act on their own subscriptions and are
// not audited).
func (w *subscriptionsRoom) auditSub(c echo.Context, admin bool, action, id string) []status.AuditEntry {
	if !admin {
		return nil
	}
	return []status.AuditEntry{{At: w.now(), Actor: actor(c), Action: action, Target: id}}
}
