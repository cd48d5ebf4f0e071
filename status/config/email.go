package config

import (
	"net/url"
	"strings"

	"github.com/outpost-status/outpost/status/email"
)

// Email is the `email:` section. Its fields are status/email's Config, so
// they are defined once, where they are used; the section is on when both
// from and smtp.host are set (there is no separate enabled key).
type Email struct {
	email.Config `yaml:",inline"`
}

// Enabled reports whether email subscriptions are on.
func (e Email) Enabled() bool { return e.From != "" && e.SMTP.Host != "" }

// emailProbeSite stands in for site.url when the email package is asked
// about from and reply_to: the site's own URL is checked elsewhere.
const emailProbeSite = "https://outpost.invalid"

// validateEmail asks status/email about each field on its own (its
// constructors stop at the first problem), so every problem is reported
// at once, each at its field.
func validateEmail(e *Email, bad badFunc) {
	if e.Config == (email.Config{}) {
		return
	}
	if e.From == "" {
		bad("email.from", "is required when the email section is set (the sender's address)")
	}
	if e.SMTP.Host == "" {
		bad("email.smtp.host", "is required when the email section is set (the SMTP server mail is handed to)")
	}
	if e.From != "" {
		_, err := email.NewComposer(email.Options{Site: email.Site{URL: emailProbeSite}, From: e.From})
		emailRule(bad, "from", err)
	}
	if e.ReplyTo != "" {
		_, err := email.NewComposer(email.Options{Site: email.Site{URL: emailProbeSite}, From: "a@outpost.invalid", ReplyTo: e.ReplyTo})
		emailRule(bad, "reply_to", err)
	}
	for field, o := range map[string]email.TransportOptions{
		"smtp.port":   {SMTP: email.SMTPConfig{Host: "h", Port: e.SMTP.Port}},
		"smtp.tls":    {SMTP: email.SMTPConfig{Host: "h", TLS: e.SMTP.TLS}},
		"concurrency": {SMTP: email.SMTPConfig{Host: "h"}, Concurrency: e.Concurrency},
		"rate_limit":  {SMTP: email.SMTPConfig{Host: "h"}, RateLimit: e.RateLimit},
	} {
		_, err := email.NewTransport(o)
		emailRule(bad, field, err)
	}
	_, err := email.Config{DomainRateLimit: e.DomainRateLimit}.DomainRate()
	emailRule(bad, "domain_rate_limit", err)
}

// emailRule reports status/email's answer about one field at that field,
// without the package's own "email: field" prefix.
func emailRule(bad badFunc, field string, err error) {
	if err == nil {
		return
	}
	msg := strings.TrimPrefix(err.Error(), "email: ")
	msg = strings.TrimLeft(strings.TrimPrefix(msg, field), ": ")
	bad("email."+field, "%s", msg)
}

// validateProfile checks a channel's public profile link: https only, and
// only on a public channel, since the subscribe page is where it shows.
func validateProfile(ch *Channel, p string, bad badFunc) {
	if ch.ProfileURL == "" {
		return
	}
	if u, err := url.Parse(ch.ProfileURL); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		bad(p+".profile_url", "must be an absolute https URL (the account's public page), got %q", ch.ProfileURL)
	}
	if ch.Operators() {
		bad(p+".profile_url", "is only shown for public channels; this channel's audience is operators")
	}
}
