package web

import (
	"crypto/subtle"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/store"
)

// Heartbeats serves push checks: /api/v1/heartbeat/{token} (POST, or GET
// for crontabs) and .../fail.
type Heartbeats struct {
	Beats *probes.Beats
	// Hashes returns the heartbeat checks' token hashes, by check.
	Hashes func() map[string]string
}

func (h *heartbeatRoom) routes(e *echo.Echo) {
	lim := newFailLimiter()
	for _, p := range []string{"/api/v1/heartbeat/:token", "/api/v1/heartbeat/:token/fail"} {
		failed := p != "/api/v1/heartbeat/:token"
		beat := func(c echo.Context) error { return h.beat(c, lim, failed) }
		e.GET(p, beat)
		e.POST(p, beat)
	}
}

func (h *heartbeatRoom) beat(c echo.Context, lim *addrLimiter, failed bool) error {
	c.Response().Header().Set("Cache-Control", CacheNone)
	got := store.HashToken(c.Param("token"))
	check := ""
	for name, h := range h.hb.Hashes() { // compared in constant time, all of them
		if subtle.ConstantTimeCompare([]byte(got), []byte(h)) == 1 {
			check = name
		}
	}
	if check == "" {
		// Only unknown tokens count and wait: a real job's beat is never
		// refused for what others sent from its address.
		if lim.refused(c.RealIP()) {
			return echo.NewHTTPError(http.StatusTooManyRequests, "too many unknown tokens from this address; wait a minute")
		}
		lim.failed(c.RealIP())
		return echo.NewHTTPError(http.StatusNotFound, "no such heartbeat")
	}
	h.hb.Beats.Beat(check, failed)
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "failed": failed})
}
