package web

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/outpost-status/outpost/status/store"
)

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
	check, ok := h.beats.CheckFor(store.HashToken(c.Param("token")))
	if !ok {
		// Only unknown tokens count and wait: a real job's beat is never
		// refused for what others sent from its address.
		if lim.refused(c.RealIP()) {
			return echo.NewHTTPError(http.StatusTooManyRequests, "too many unknown tokens from this address; wait a minute")
		}
		lim.failed(c.RealIP())
		return echo.NewHTTPError(http.StatusNotFound, "no such heartbeat")
	}
	if err := h.record(check, failed); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "failed": failed})
}

// record takes a beat: on one Outpost into its own beats; in a cluster
// through the log, answered once committed (a cluster without a leader
// answers 503), and every member takes it from there.
func (h *heartbeatRoom) record(check string, failed bool) error {
	if !h.share {
		h.beats.Beat(check, failed)
		return nil
	}
	at := h.now()
	if _, err := h.changes.Apply(store.Entry{At: at, Settings: []store.Setting{store.BeatSetting(check, at, failed)}}); err != nil {
		return fmt.Errorf("heartbeat of %s: %w", check, err)
	}
	return nil
}
