package web

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/email"
	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/webhook"
)

// Operators' work on subscribers of either kind: find (by kind, an email
// subscriber by address), show, export (a data-protection request),
// disable with a reason (bounces and complaints fed back), re-enable and
// erase. Operators see an email subscriber's address; nobody else does.
// Every change is a SubscriptionChange entry with its audit entry, which
// names the subscriber's id only: an erased subscriber leaves no address
// in the audit (the disabling reason, which may quote one, is kept on the
// subscriber, and erased with it).

// emailView is an email subscriber as operators see it: no token hashes.
type emailView struct {
	ID                string    `json:"id"`
	Kind              string    `json:"kind"`
	Address           string    `json:"address"`
	State             string    `json:"state"`
	Components        []string  `json:"components"`
	Maintenance       bool      `json:"maintenance"`
	CreatedAt         time.Time `json:"created_at"`
	ConfirmUntil      time.Time `json:"confirm_until,omitzero"`
	ConfirmedAt       time.Time `json:"confirmed_at,omitzero"`
	StateAt           time.Time `json:"state_changed_at"`
	Reason            string    `json:"reason,omitempty"`
	PermanentFailures int       `json:"permanent_failures"`
}

// webhookAdminView is a webhook subscriber as operators list it: the
// view its owner sees, with its kind.
type webhookAdminView struct {
	Kind string `json:"kind"`
	webhook.View
}

// adminView shows sub to an operator.
func adminView(sub store.Subscription) any {
	if sub.Kind != store.KindEmail {
		return webhookAdminView{Kind: string(store.KindWebhook), View: webhook.ViewOf(sub, true)}
	}
	v := emailView{ID: sub.ID, Kind: string(sub.Kind), Address: sub.Address, State: string(sub.State), Components: sub.Components,
		Maintenance: sub.Maintenance, CreatedAt: sub.CreatedAt, ConfirmedAt: sub.ConfirmedAt, StateAt: sub.StateAt,
		Reason: sub.Reason, PermanentFailures: sub.PermanentFailures}
	if v.Components == nil {
		v.Components = []string{}
	}
	if sub.State == store.SubPending {
		v.ConfirmUntil = sub.ConfirmUntil
	}
	return v
}

// view shows sub to an operator (admin) or to its owner.
func view(sub store.Subscription, admin bool) any {
	if admin {
		return adminView(sub)
	}
	return webhook.ViewOf(sub, false)
}

// listSubs lists subscribers: ?kind=email|webhook, ?email= one address
// (compared without case).
func (w *subscriptionsRoom) listSubs(c echo.Context) error {
	kind, addr := c.QueryParam("kind"), c.QueryParam("email")
	switch {
	case kind != "" && kind != string(store.KindEmail) && kind != string(store.KindWebhook):
		return fieldError("kind", "kind must be email or webhook")
	case addr != "" && kind == string(store.KindWebhook):
		return fieldError("email", "email finds email subscribers: leave kind out, or set it to email")
	case strings.ContainsFunc(addr, isControl) || utf8.RuneCountInString(addr) > email.MaxAddress:
		return fieldError("email", "email must be one address, on one line")
	}
	subs, err := w.find(kind, addr)
	if err != nil {
		return err
	}
	out := make([]any, 0, len(subs))
	for _, sub := range subs {
		out = append(out, adminView(sub))
	}
	return c.JSON(http.StatusOK, map[string]any{"subscriptions": out})
}

func (w *subscriptionsRoom) find(kind, addr string) ([]store.Subscription, error) {
	if addr != "" {
		sub, err := w.st.EmailSubscriber(addr)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		return []store.Subscription{sub}, err
	}
	all, err := w.st.Subscriptions()
	if err != nil || kind == "" {
		return all, err
	}
	var out []store.Subscription
	for _, sub := range all {
		if string(sub.Kind) == kind {
			out = append(out, sub)
		}
	}
	return out, nil
}

// maxExported bounds the deliveries an export lists (newest first): a
// subscriber's deliveries are pruned after 30 days, so this is far more
// than one holds.
const maxExported = 10_000

// exportSub is everything held about one subscriber, for a
// data-protection request: the subscription as stored (its choices, its
// state and when it changed, why), and its deliveries with every attempt.
func (w *subscriptionsRoom) exportSub(c echo.Context, _ bool) error {
	sub, err := w.st.Subscription(c.Param("id"))
	if err != nil {
		return subError(err)
	}
	log, err := w.st.WebhookLog(sub.ID, maxExported)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"exported_at": w.now().UTC(), "subscription": adminView(sub),
		"deliveries": webhook.LogOf(log, true)})
}

// maxReason bounds a disabling reason (a bounce's or a complaint's gist).
const maxReason = 500

// disableSub stops deliveries to a subscriber, with the operator's reason
// (a late bounce, a complaint); enable undoes it. A pending subscriber
// gets nothing anyway (409); one disabled already stays as it is.
func (w *subscriptionsRoom) disableSub(c echo.Context, _ bool) error {
	var b struct {
		Reason string `json:"reason"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	reason := strings.TrimSpace(b.Reason)
	switch {
	case reason == "":
		return fieldError("reason", "reason is required: why deliveries stop (a bounce, a complaint)")
	case strings.ContainsFunc(reason, isControl):
		return fieldError("reason", "reason must be one line, with no control characters")
	case utf8.RuneCountInString(reason) > maxReason:
		return fieldError("reason", "reason must be at most %d characters", maxReason)
	}
	id := c.Param("id")
	sub, err := w.change(c, store.SubscriptionChange{ID: id, State: store.SubDisabled, Reason: reason,
		From: []store.SubState{store.SubActive, store.SubPaused}}, "disable_subscription")
	if err != nil {
		return subError(err)
	}
	return c.JSON(http.StatusOK, adminView(sub))
}

// change commits c with an operator's audit entry (owners are not
// audited), naming the subscriber by id only.
func (w *subscriptionsRoom) change(c echo.Context, ch store.SubscriptionChange, action string) (store.Subscription, error) {
	var audit []status.AuditEntry
	if t, _ := c.Get(tokenKey).(*AdminToken); t != nil {
		audit = []status.AuditEntry{{At: w.now(), Actor: t.Name, Action: action, Target: ch.ID}}
	}
	res, err := w.changes.Apply(store.Entry{At: w.now(), Subscription: &ch, Audit: audit})
	if res.Unwiped != nil {
		// Erased; the wipe of the freed pages is retried at the next commit.
		w.logger.Error("erasure committed, free pages not wiped yet", slog.String("subscription", ch.ID), slog.String("error", res.Unwiped.Error()))
	}
	return res.Subscription, err
}

// webhookSub refuses an email subscriber where only webhooks make sense
// (signing secrets, test deliveries).
func (w *subscriptionsRoom) webhookSub(id string) error {
	sub, err := w.st.Subscription(id)
	if err != nil {
		return subError(err)
	}
	if sub.Kind == store.KindEmail {
		return echo.NewHTTPError(http.StatusConflict, "an email subscriber has no signing secret and takes no test deliveries")
	}
	return nil
}
