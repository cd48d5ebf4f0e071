package web

import (
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// HTML forms post without JavaScript, so they cannot send JSON and are
// always CORS "simple requests": any page could make its visitors'
// browsers submit them. formPost guards such a route: the body must be a
// form (urlencoded), and a request whose Origin or Sec-Fetch-Site says it
// came from another site is refused. A request with neither header (an
// old browser, a script) is accepted: what protects a public form is that
// a browser cannot be made to leave them out. A route may add a hidden
// per-form token, never tied to a cookie.
func formPost(siteURL string) echo.MiddlewareFunc {
	own := originOf(siteURL)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := formType(c.Request().Header.Get("Content-Type"), "application/x-www-form-urlencoded"); err != nil {
				return err
			}
			if crossSite(c.Request(), own) {
				return echo.NewHTTPError(http.StatusForbidden, "this form only takes submissions from its own page")
			}
			return next(c)
		}
	}
}

// oneClickPost guards an RFC 8058 one-click unsubscribe URL: mailbox
// providers post from their own servers, with either form type, no
// Origin of ours and no token, so only the type is checked.
func oneClickPost(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := formType(c.Request().Header.Get("Content-Type"), "application/x-www-form-urlencoded", "multipart/form-data"); err != nil {
			return err
		}
		return next(c)
	}
}

// formType refuses a body whose media type is none of allowed.
func formType(header string, allowed ...string) error {
	if mt, _, err := mime.ParseMediaType(header); err == nil && slices.Contains(allowed, mt) {
		return nil
	}
	return echo.NewHTTPError(http.StatusUnsupportedMediaType, "the body must be a form ("+strings.Join(allowed, " or ")+")")
}

// crossSite reports whether a request says it came from a page of
// another origin than own, the site's configured URL. Not the host the
// request was sent to: a DNS-rebinding page (the attacker's name made to
// resolve to this server) posts with its own name as both Origin and
// Host, and the browser calls that same-origin. With no site URL (own
// "") no Origin is ours, and only a request with none passes. Sec-Fetch-
// Site "same-site" is refused too: a sibling host under the same domain
// (user content, a marketing site) is not this page.
func crossSite(r *http.Request, own string) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return true
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	// "null" (a sandboxed frame, a redirect across sites) and garbage
	// have no origin, which never matches.
	got := originOf(o)
	return got == "" || got != own
}

// originOf is a URL's scheme://host[:port], lowercased; "" if it has none.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}
