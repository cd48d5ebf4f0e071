package node

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/email"
	"github.com/outpost-status/outpost/status/notify"
	"github.com/outpost-status/outpost/status/store"
)

// Email subscribers' delivery: the one subscriber loop (notify.Subscribers)
// with the SMTP transport, built only when an email section is given.
// Until the config's `email:` section is merged, Options.Email is set by
// the caller; after it, serve passes the loaded section with one line.

// Email delivery's fixed choices: mails per Send (one recipient domain,
// sharing SMTP sessions), mails in flight per domain (the per-domain
// throttle), and how long unconfirmed subscribers are kept.
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

// emailLoop builds the email subscribers' loop, or nil without an email
// section. links may be nil: email.SubscribePage (temporary, see there).
func emailLoop(cfg *config.Config, o *email.Config, links email.Links, st *store.Store, changes store.Log, now func() time.Time,
	log *slog.Logger, observe func(dest, result string)) (*notify.Subscribers, error) {
	if o == nil {
		return nil, nil
	}
	site := email.Site{Title: cfg.Site.Title, URL: cfg.Site.URL, Location: cfg.Site.Location}
	comp, err := email.NewComposer(email.Options{Site: site, From: o.From, ReplyTo: o.ReplyTo})
	if err != nil {
		return nil, fmt.Errorf("email: %w", err)
	}
	tr, err := email.NewTransport(email.TransportOptions{SMTP: o.SMTP, Concurrency: o.Concurrency, RateLimit: o.RateLimit, Log: log})
	if err != nil {
		return nil, err
	}
	if links == nil {
		links = email.SubscribePage{SiteURL: cfg.Site.URL}
	}
	return notify.NewSubscribers(notify.SubscribersOptions{Store: st, Log: changes, Logger: log, Now: now,
		Transport: &email.Sender{Composer: comp, Transport: tr, Links: links, Now: now},
		Workers:   max(o.Concurrency, email.DefaultConcurrency), PerKey: emailPerDomain, Batch: emailBatch, MarkSending: true,
		Policy:    store.WebhookPolicy{EmailSchedule: EmailSchedule(), DisableAfterPermanent: store.DisableAfterPermanent},
		Retention: emailRetention, ForgetUnconfirmed: forgetUnconfirmed, Observe: observe}), nil
}

// withEmail adds the email destination, under the publish policy, to the
// events an email subscriber can want (incidents and maintenance: the
// fan-out applies each subscriber's choice).
func withEmail(route store.Router, cfg *config.Config, on bool) store.Router {
	if !on {
		return route
	}
	pub := notify.Publish{Mode: cfg.Publish.Mode, Delay: cfg.Publish.Delay}
	return func(ev status.Event) []store.Dest {
		dests := route(ev)
		if ev.Incident != nil && !ev.Type.OperatorsOnly() && ev.Type != status.ComponentStatusChanged {
			dests = append(dests, notify.PublicDest(store.EmailDest, pub))
		}
		return dests
	}
}

// mailRun runs the email deliveries, when on.
func (n *Node) mailRun(ctx context.Context) {
	if n.mail != nil {
		n.mail.Run(ctx)
	}
}
