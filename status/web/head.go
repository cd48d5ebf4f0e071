package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// headAsGet answers HEAD like GET without a body, on every GET route
// (RFC 9110 §9.3.2): uptime monitors, CDNs, link checkers and Statuspage
// clients probe with HEAD. The router sees a GET, so a route added later
// cannot forget HEAD.
func headAsGet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		get := new(http.Request)
		*get = *r
		get.Method = http.MethodGet
		next.ServeHTTP(bodyless{w}, get)
	})
}

// bodyless sends the status and headers and drops the body.
type bodyless struct{ http.ResponseWriter }

func (b bodyless) Write(p []byte) (int, error) { return len(p), nil }

// Unwrap lets http.ResponseController reach the connection.
func (b bodyless) Unwrap() http.ResponseWriter { return b.ResponseWriter }

// sizedJSON answers v as JSON (as c.JSON writes it) with its
// Content-Length, so a HEAD, whose body headAsGet drops before net/http
// could count it, announces the length a GET gets.
func sizedJSON(c echo.Context, code int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode answer: %w", err)
	}
	b = append(b, '\n')
	c.Response().Header().Set(echo.HeaderContentLength, strconv.Itoa(len(b)))
	return c.Blob(code, echo.MIMEApplicationJSON, b)
}
