package node

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/email"
	"github.com/outpost-status/outpost/status/notify"
	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/web"
)

// Email subscribers: the one subscriber loop (notify.Subscribers) with the
// SMTP transport, and the subscribe form's service (double opt-in), built
// only when the config has an email section (or Options.Email is set).

// Email delivery's fixed choices: mails per Send (one recipient domain,
// sharing SMTP sessions), mails in flight per domain (with the
// configured per-domain rate, the per-domain throttle), and how long
// unconfirmed subscribers are kept.
const (
	emailBatch        = 50
	emailPerDomain    = 50
	emailRetention    = 30 * 24 * time.Hour
	forgetUnconfirmed = 7 * 24 * time.Hour
)

// EmailSchedule is the wait before each retry of a mail (4xx, a broken
// session): about a day in all, like the webhooks'.
func EmailSchedule() []time.Duration {
	return []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour}
}

// emailLoop builds the email subscribers' loop and the subscribe form's
// service, or nils without an email section. links may be nil: the
// signed capability links.
func emailLoop(cfg *config.Config, o *email.Config, links email.Links, st *store.Store, changes store.Log, now func() time.Time,
	log *slog.Logger, observe func(dest, result string)) (*notify.Subscribers, *emailForm, error) {
	if o == nil {
		return nil, nil, nil
	}
	site := email.Site{Title: cfg.Site.Title, URL: cfg.Site.URL, Location: cfg.Site.Location}
	comp, err := email.NewComposer(email.Options{Site: site, From: o.From, ReplyTo: o.ReplyTo})
	if err != nil {
		return nil, nil, fmt.Errorf("email: %w", err)
	}
	tr, err := email.NewTransport(email.TransportOptions{SMTP: o.SMTP, Concurrency: o.Concurrency, RateLimit: o.RateLimit, Log: log})
	if err != nil {
		return nil, nil, err
	}
	perDomain, err := o.DomainRate()
	if err != nil {
		return nil, nil, err
	}
	if links == nil {
		links = email.CapabilityLinks{SiteURL: cfg.Site.URL, Keys: st}
	}
	form := &emailForm{email.NewSubscribe(email.SubscribeOptions{Log: changes, Store: st, Composer: comp, Transport: tr,
		SiteURL: cfg.Site.URL, Now: now, Logger: log})}
	return notify.NewSubscribers(notify.SubscribersOptions{Store: st, Log: changes, Logger: log, Now: now,
		Transport: &email.Sender{Composer: comp, Transport: tr, Links: links, Now: now},
		Workers:   max(o.Concurrency, email.DefaultConcurrency), PerKey: emailPerDomain, Batch: emailBatch, MarkSending: true, KeyRate: perDomain,
		Policy:    store.WebhookPolicy{EmailSchedule: EmailSchedule(), DisableAfterPermanent: store.DisableAfterPermanent},
		Retention: emailRetention, ForgetUnconfirmed: forgetUnconfirmed, Observe: observe}), form, nil
}

// emailForm is the email service as status/web asks for it (its form and
// JSON API hand over an email.Request checked by email.CheckAddress).
type emailForm struct{ s *email.Subscribe }

// SubscribeEmail starts a double opt-in: queued, so the answer neither
// waits for nor reports anything that depends on the address.
func (f *emailForm) SubscribeEmail(_ context.Context, r email.Request) error {
	return f.s.Submit(r)
}

// subscriber is f for web.Options, nil (email off) when f is.
func (f *emailForm) subscriber() web.EmailSubscriber {
	if f == nil {
		return nil
	}
	return f
}

// mailRun runs the email deliveries and the subscribe requests, when on.
func (n *Node) mailRun(ctx context.Context) {
	if n.mail != nil {
		n.mail.Run(ctx)
	}
}

// subscribeRun takes the subscribe form's queued addresses on every node
// (in a cluster, the node that took the form sends its confirmation: one
// mail, whoever leads).
func (n *Node) subscribeRun(ctx context.Context) {
	if n.mail != nil {
		n.form.s.Run(ctx)
	}
}
