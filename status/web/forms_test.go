package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// The guard for HTML forms (and RFC 8058's one-click URL): a form body
// from the site's own page or from a client that names no origin is
// taken; one that says it came from another site, or that is not a form,
// is refused.
func TestFormPostGuard(t *testing.T) {
	e := echo.New()
	ok := func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }
	e.POST("/subscribe", ok, formPost("https://status.acme.test"))
	e.POST("/unset/subscribe", ok, formPost("")) // no site URL: no origin is ours
	e.POST("/unsubscribe/one-click", ok, oneClickPost)
	const form = "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, path, ctype, origin, fetchSite string
		want                                 int
	}{
		{"same origin", "/subscribe", form, "https://status.acme.test", "same-origin", 204},
		{"same origin, Origin only", "/subscribe", form, "https://Status.Acme.test", "", 204},
		{"same origin, Sec-Fetch-Site only", "/subscribe", form, "", "same-origin", 204},
		// A DNS-rebinding page: the attacker's name now resolves here, so
		// its Origin is the host the request was sent to, and the browser
		// calls it same-origin. Only the site's own URL counts.
		{"DNS rebinding: Origin is the host it was sent to", "/subscribe", form, "http://status.internal:8080", "same-origin", 403},
		{"DNS rebinding, Origin only", "/subscribe", form, "http://status.internal:8080", "", 403},
		{"no site URL, an Origin", "/unset/subscribe", form, "http://status.internal:8080", "same-origin", 403},
		{"no site URL, neither header", "/unset/subscribe", form, "", "", 204},
		{"typed by the user", "/subscribe", form, "", "none", 204},
		{"neither header", "/subscribe", form, "", "", 204},
		{"a charset parameter", "/subscribe", form + "; charset=utf-8", "", "", 204},
		{"cross-site Origin", "/subscribe", form, "https://evil.example", "", 403},
		{"cross-site Origin, same scheme and port", "/subscribe", form, "https://status.acme.test.evil.example", "", 403},
		{"Origin null", "/subscribe", form, "null", "", 403},
		{"Sec-Fetch-Site cross-site", "/subscribe", form, "", "cross-site", 403},
		{"Sec-Fetch-Site same-site (a sibling host)", "/subscribe", form, "", "same-site", 403},
		{"same Origin but Sec-Fetch-Site cross-site", "/subscribe", form, "https://status.acme.test", "cross-site", 403},
		{"JSON to a form", "/subscribe", "application/json", "", "", 415},
		{"text/plain to a form", "/subscribe", "text/plain", "", "", 415},
		{"multipart to a form", "/subscribe", "multipart/form-data; boundary=x", "", "", 415},
		{"one-click, urlencoded, from a mailbox provider", "/unsubscribe/one-click", form, "https://mail.example", "cross-site", 204},
		{"one-click, multipart", "/unsubscribe/one-click", "multipart/form-data; boundary=x", "", "", 204},
		{"one-click, text/plain", "/unsubscribe/one-click", "text/plain", "", "", 415},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "http://status.internal:8080"+tc.path, strings.NewReader("List-Unsubscribe=One-Click"))
			req.Header.Set("Content-Type", tc.ctype)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.fetchSite != "" {
				req.Header.Set("Sec-Fetch-Site", tc.fetchSite)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("%d %s, want %d", rec.Code, rec.Body, tc.want)
			}
		})
	}
}
