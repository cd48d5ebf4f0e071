package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/outpost-status/outpost/status/email"
	"github.com/outpost-status/outpost/status/webhook"
)

// POST /api/v1/subscriptions takes both kinds of subscriber: a webhook
// (the default kind) or, with "kind":"email", an address, which goes
// through the same double opt-in as the subscribe form: the same address
// check (email.CheckAddress), the same per-client limit (one limiter for
// both), the same service and the same answer whatever the address.

// subscribeBody is the request, either kind: fields of the other kind
// are refused by name (the strict decoder refuses any other field).
// (webhook.Request's fields are listed, not embedded, so a type error
// names "url", not "Request.url".)
type subscribeBody struct {
	Kind        string   `json:"kind,omitempty"`
	URL         string   `json:"url,omitempty"`
	Components  []string `json:"components,omitempty"`
	Events      []string `json:"events,omitempty"`
	Format      string   `json:"format,omitempty"`
	Email       string   `json:"email,omitempty"`
	Maintenance *bool    `json:"maintenance,omitempty"`
}

func (b subscribeBody) webhook() *webhook.Request {
	return &webhook.Request{URL: b.URL, Components: b.Components, Events: b.Events, Format: b.Format}
}

// emailAccepted is the one answer to a valid email subscription.
var emailAccepted = map[string]string{"kind": "email",
	"message": "Check your inbox: if the address can receive mail, a confirmation link is on its way. Nothing is sent to it before the link is followed."}

// subscribeKind reads the body and sends it to its kind; a webhook
// request is handed back to take the webhook path.
func (w *subscriptionsRoom) subscribeKind(c echo.Context, body []byte) (*webhook.Request, error) {
	var b subscribeBody
	if err := decodeJSON(body, &b); err != nil {
		return nil, err
	}
	switch b.Kind {
	case "", "webhook":
		switch {
		case b.Email != "" || b.Maintenance != nil:
			field := map[bool]string{true: "email", false: "maintenance"}[b.Email != ""]
			return nil, fieldError(field, `%s is for email subscriptions: send "kind":"email" with it`, field)
		case w.wh == nil:
			return nil, fieldError("kind", "webhook subscriptions are off on this site (webhooks.enabled)")
		}
		return b.webhook(), nil
	case "email":
		return nil, w.subscribeEmail(c, b)
	}
	return nil, fieldError("kind", "kind must be webhook or email")
}

// subscribeEmail starts a double opt-in for a valid request.
func (w *subscriptionsRoom) subscribeEmail(c echo.Context, b subscribeBody) error {
	if w.email == nil {
		return fieldError("kind", "email subscriptions are off on this site (no email section)")
	}
	if err := webhookOnly(b); err != nil {
		return err
	}
	req, err := w.emailRequest(b)
	if err != nil {
		return err
	}
	if !w.emailLim.get(c.RealIP()).Allow() {
		c.Response().Header().Set("Retry-After", "60")
		return echo.NewHTTPError(http.StatusTooManyRequests, "too many subscriptions from this address; wait a minute and try again")
	}
	if err := w.email.SubscribeEmail(c.Request().Context(), req); err != nil {
		// The address is the subscriber's business: it is not logged.
		w.logger.Error("email subscription failed", slog.String("error", err.Error()))
		return echo.NewHTTPError(http.StatusServiceUnavailable, "the subscription could not be taken just now; try again in a few minutes")
	}
	return c.JSON(http.StatusAccepted, emailAccepted)
}

// webhookOnly refuses a webhook's fields on an email subscription.
func webhookOnly(r subscribeBody) error {
	for _, f := range []struct {
		name string
		set  bool
	}{{"url", r.URL != ""}, {"events", r.Events != nil}, {"format", r.Format != ""}} {
		if f.set {
			return fieldError(f.name, "%s is for webhook subscriptions only", f.name)
		}
	}
	return nil
}

// emailRequest checks an email subscription's fields as the form does.
func (w *subscriptionsRoom) emailRequest(b subscribeBody) (email.Request, error) {
	addr, err := email.CheckAddress(b.Email)
	if err != nil {
		return email.Request{}, fieldError("email", "%s", err.Error())
	}
	snap := w.site.Served()
	if snap == nil {
		return email.Request{}, echo.NewHTTPError(http.StatusServiceUnavailable, "starting up")
	}
	var comps []string
	if b.Components != nil {
		var problem string
		if comps, problem = pickComponents(b.Components, componentIDs(snap)); problem != "" {
			return email.Request{}, fieldError("components", "%s", problem)
		}
	}
	return email.Request{Address: addr, Components: comps, Maintenance: b.Maintenance == nil || *b.Maintenance}, nil
}

// pickComponents checks chosen component ids against the known ones, for
// the form and the API: nil (all) when every one is chosen, else sorted
// without repeats; or the problem, a sentence for the person who chose.
func pickComponents(picked, known []string) ([]string, string) {
	var out []string
	for _, id := range picked {
		switch {
		case strings.ContainsFunc(id, isControl):
			return nil, "A component must be one line, with no control characters."
		case !slices.Contains(known, id):
			return nil, fmt.Sprintf("Unknown component %q: the page and /api/v1/status list the current ones.", clip(id, 64))
		case !slices.Contains(out, id):
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return nil, "Choose at least one component."
	}
	if len(out) == len(known) {
		return nil, ""
	}
	slices.Sort(out)
	return out, ""
}
