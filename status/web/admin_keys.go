package web

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/capability"
	"github.com/outpost-status/outpost/status/store"
)

// maxKeyGrace bounds how long a rotated-out site key may keep verifying:
// a rotation that never retires the old key is no rotation.
const maxKeyGrace = 365 * 24 * time.Hour

// rotateSiteKey replaces the key that signs capability links. The new
// secret is drawn here, outside the store, and written with the old key's
// end of grace and the audit entry as one entry. The answer names keys,
// never secrets.
func (a *adminRoom) rotateSiteKey(c echo.Context) error {
	var b struct {
		Grace string `json:"grace"`
	}
	if c.Request().ContentLength != 0 {
		if err := decode(c, &b); err != nil {
			return err
		}
	}
	grace := capability.Grace
	if b.Grace != "" {
		d, err := time.ParseDuration(b.Grace)
		if err != nil || d < 0 || d > maxKeyGrace {
			return fieldError("grace", "grace must be a duration from 0s to %s, like 720h", maxKeyGrace)
		}
		grace = d
	}
	keys, err := a.st.SiteKeys()
	if err != nil {
		return err
	}
	secret, err := capability.NewSecret()
	if err != nil {
		return err
	}
	now := a.now()
	fresh, retired, err := capability.Rotate(keys, secret, now, grace)
	if err != nil {
		return err
	}
	settings, err := store.SiteKeySettings(fresh, retired...)
	if err != nil {
		return err
	}
	audit := []status.AuditEntry{{At: now, Actor: actor(c), Action: "rotate_site_key", Target: fresh.ID}}
	if _, err := a.changes.Apply(store.Entry{At: now, Settings: settings, Audit: audit}); errors.Is(err, store.ErrSettingExists) {
		return echo.NewHTTPError(http.StatusConflict, "another rotation happened meanwhile; nothing changed, try again")
	} else if err != nil {
		return fmt.Errorf("rotate the site key: %w", err)
	}
	out := map[string]any{"key": fresh.ID, "created": fresh.Created}
	if _, ok := keys.Current(); ok { // Rotate lists the key that was signing first
		out["previous"], out["previous_until"] = retired[0].ID, retired[0].Until
	}
	return c.JSON(http.StatusOK, out)
}
