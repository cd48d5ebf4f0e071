package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/outpost-status/outpost/status/store"
)

// screenshots lists the screenshots a browser check kept of its failed
// runs, newest first, each with the URL of its PNG (operators only: a page
// can show anything).
func (a *adminRoom) screenshots(c echo.Context) error {
	name := c.Param("name")
	shots, err := a.st.Screenshots(name)
	if err != nil {
		return err
	}
	if len(shots) == 0 {
		return echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("no screenshots of check %q", name))
	}
	type shot struct {
		At    time.Time `json:"at"`
		Bytes int       `json:"bytes"`
		URL   string    `json:"url"`
	}
	out := make([]shot, 0, len(shots))
	for _, sh := range shots {
		out = append(out, shot{At: sh.At, Bytes: sh.Bytes,
			URL: "/api/v1/checks/" + name + "/screenshots/" + strconv.FormatInt(sh.At.UnixNano(), 10) + ".png"})
	}
	c.Response().Header().Set("Cache-Control", CacheNone)
	return c.JSON(http.StatusOK, map[string]any{"check": name, "screenshots": out})
}

// screenshot serves one kept PNG by its run's time (unix nanoseconds).
func (a *adminRoom) screenshot(c echo.Context) error {
	ns, err := strconv.ParseInt(strings.TrimSuffix(c.Param("file"), ".png"), 10, 64)
	if err != nil || !strings.HasSuffix(c.Param("file"), ".png") {
		return echo.NewHTTPError(http.StatusNotFound, "a screenshot is named by its run's time: NANOSECONDS.png")
	}
	png, err := a.st.ScreenshotAt(c.Param("name"), time.Unix(0, ns))
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "no such screenshot (only the last few of each check are kept)")
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", CacheNone)
	return c.Blob(http.StatusOK, "image/png", png)
}
