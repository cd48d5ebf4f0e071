package web

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// AdminToken is a configured bearer token, kept only as its hash
// (store.HashToken, the one token hash of every kind of token).
type AdminToken struct {
	Name     string
	Hash     string
	ReadOnly bool
}

// Admin wires the admin API to the engine.
type Admin struct {
	Tokens []AdminToken
	// Do applies commands in the engine's next step and returns once they
	// are committed.
	Do func(ctx context.Context, cmds ...status.Command) ([]status.Reply, error)
	// Snapshot is the monitor's newest published snapshot: after Do the
	// admin API offers it and answers once it is served, so the page
	// shows the change when the answer comes.
	Snapshot func() *status.Snapshot
}

const maxAdminBody = 64 << 10

// adminRoutes mounts the admin API; every route needs a token, and writes a
// token that is not read-only.
func (a *adminRoom) routes(e *echo.Echo) {
	lim := newFailLimiter()
	// Authentication is per route, not on the group: a group's middleware
	// would run for every unknown /api/v1 path too, answering 401 (and
	// counting a failure) where 404 is the truth.
	auth := tokenAuth(a.admin, lim)
	g := e.Group("/api/v1")
	g.GET("/incidents", a.listIncidents, auth)
	g.POST("/incidents", a.createIncident, auth, writer)
	g.POST("/incidents/:id/updates", a.addUpdate, auth, writer)
	g.PATCH("/incidents/:id", a.patchIncident, auth, writer)
	g.PATCH("/incidents/:id/updates/:uid", a.editUpdate, auth, writer)
	g.DELETE("/incidents/:id/updates/:uid", a.deleteUpdate, auth, writer)
	g.POST("/incidents/:id/postmortem", a.postmortem, auth, writer)
	g.GET("/deliveries", a.deliveries, auth)
	g.GET("/maintenances", a.listMaintenances, auth)
	g.POST("/maintenances", a.createMaintenance, auth, writer)
	g.PATCH("/maintenances/:id", a.patchMaintenance, auth, writer)
	g.DELETE("/maintenances/:id", a.cancelMaintenance, auth, writer)
	g.GET("/announcements", a.listHeld, auth)
	g.POST("/announcements/:seq/release", a.release, auth, writer)
	g.POST("/announcements/:seq/cancel", a.cancelHeld, auth, writer)
	g.GET("/audit", a.audit, auth)
	g.GET("/checks/:name/screenshots", a.screenshots, auth)
	g.GET("/checks/:name/screenshots/:file", a.screenshot, auth)
	g.POST("/keys/rotate", a.rotateSiteKey, auth, writer)
}

// match returns the admin token the request's bearer token is, or nil.
func (a *Admin) match(r *http.Request) *AdminToken {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if a == nil || !ok || got == "" {
		return nil
	}
	h := []byte(store.HashToken(got))
	var who *AdminToken
	for i := range a.Tokens { // every token is compared, in constant time
		if subtle.ConstantTimeCompare(h, []byte(a.Tokens[i].Hash)) == 1 {
			who = &a.Tokens[i]
		}
	}
	return who
}

// tokenKey is where auth leaves the caller's token in the echo context.
const tokenKey = "token"

func tokenAuth(a *Admin, lim *addrLimiter) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set("Cache-Control", CacheNone)
			// A valid token is never refused for what other requests from
			// the same address did: only failures count, and only they wait.
			if who := a.match(c.Request()); who != nil {
				c.Set(tokenKey, who)
				return next(c)
			}
			if lim.refused(c.RealIP()) {
				return echo.NewHTTPError(http.StatusTooManyRequests, "too many failed attempts from this address; wait a minute")
			}
			lim.failed(c.RealIP())
			return echo.NewHTTPError(http.StatusUnauthorized, "a valid bearer token is required")
		}
	}
}

// writer refuses read-only tokens.
func writer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if t, _ := c.Get(tokenKey).(*AdminToken); t == nil || t.ReadOnly {
			return echo.NewHTTPError(http.StatusForbidden, "this token is read-only")
		}
		return next(c)
	}
}

func actor(c echo.Context) string {
	t, _ := c.Get(tokenKey).(*AdminToken)
	if t == nil {
		return ""
	}
	return t.Name
}

// fieldError is a 400 naming the field at fault.
func fieldError(field, format string, args ...any) error {
	return &echo.HTTPError{Code: http.StatusBadRequest, Message: fmt.Sprintf(format, args...), Internal: fieldErr(field)}
}

type fieldErr string

func (f fieldErr) Error() string { return string(f) }

// decode reads a JSON body strictly: bounded, one object, unknown fields
// and duplicate keys rejected.
func decode(c echo.Context, v any) error {
	body, err := readBody(c, maxAdminBody)
	if err != nil {
		return err
	}
	return decodeJSON(body, v)
}

func (a *adminRoom) audit(c echo.Context) error {
	entries, err := a.st.AuditLog(200, time.Time{})
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []status.AuditEntry{}
	}
	return c.JSON(http.StatusOK, map[string]any{"audit": entries})
}
