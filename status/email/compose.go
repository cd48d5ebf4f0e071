// Package email builds the mails Outpost sends to email subscribers and
// sends them over SMTP. A mail is a pure function of its input (the same
// event for the same subscriber gives the same bytes, Message-ID and
// threading included), so a re-sent mail is the same mail; the transport
// sends batches over reused sessions and says, per message, whether to
// give up, retry, or that the server may already have it.
package email

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
)

// ErrNoMail is returned for events subscribers are not mailed about:
// operators' events and component changes outside an incident.
var ErrNoMail = errors.New("email: no mail for this event")

// Site is what a mail says about the site.
type Site struct {
	Title string
	// URL is the site's public address; its host names the Message-IDs,
	// and only an https URL gives one-click unsubscribing (RFC 8058).
	URL string
	// Location is the zone the mail's times are written in (nil: UTC).
	Location *time.Location
}

// Options configure a Composer.
type Options struct {
	Site Site
	// From is the email section's `from` ("Acme Status <status@…>"); a
	// bare address gets the site's title as its name.
	From string
	// ReplyTo is optional.
	ReplyTo string
	// Templates replace the default parts by name (see NewTemplates).
	Templates map[string]string
}

// Composer builds mails for one site. It holds no mutable state: one is
// shared by every sender.
type Composer struct {
	site    Site
	base    string // the site URL without a trailing slash
	host    string // Message-ID domain
	oneTap  bool   // https: List-Unsubscribe-Post may be offered
	from    *mail.Address
	replyTo *mail.Address
	tpl     *Templates
}

// NewComposer checks the options and parses the templates once, so a bad
// address or template fails at start, not at the first incident.
func NewComposer(o Options) (*Composer, error) {
	if o.Site.Location == nil {
		o.Site.Location = time.UTC
	}
	c := &Composer{site: o.Site, base: strings.TrimRight(o.Site.URL, "/")}
	u, err := url.Parse(o.Site.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return nil, fmt.Errorf("email: site url %q: want an absolute http(s) URL", o.Site.URL)
	}
	c.oneTap = u.Scheme == "https"
	if c.host = strings.ToLower(u.Hostname()); !isDomain(c.host) {
		return nil, fmt.Errorf("email: site url %q: its host cannot name a Message-ID", o.Site.URL)
	}
	if c.from, err = parseAddress("from", o.From); err != nil {
		return nil, err
	}
	if c.from.Name == "" {
		c.from.Name = oneLine(o.Site.Title)
	}
	if o.ReplyTo != "" {
		if c.replyTo, err = parseAddress("reply_to", o.ReplyTo); err != nil {
			return nil, err
		}
	}
	if c.tpl, err = NewTemplates(o.Templates); err != nil {
		return nil, err
	}
	return c, nil
}

// parseAddress reads one address; control characters are refused before
// parsing, so no value can carry a line break into a header.
func parseAddress(field, s string) (*mail.Address, error) {
	if strings.ContainsFunc(s, isControl) {
		return nil, fmt.Errorf("email: %s: control characters (CR, LF, …) are not allowed", field)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("email: %s %q: %w", field, s, err)
	}
	return a, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// oneLine makes a header-bound text one line: control characters become
// spaces and runs of spaces one.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s)), " ")
}

// isDomain reports a host usable as a Message-ID's right side (a
// dot-atom of letters, digits, dots and hyphens).
func isDomain(h string) bool {
	if h == "" || len(h) > 253 || strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") || strings.Contains(h, "..") {
		return false
	}
	return !strings.ContainsFunc(h, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '.' && r != '-'
	})
}

// maxLink keeps a link, in List-Unsubscribe on a folded line of its own,
// within a mail's 998-character line limit.
const maxLink = 900

// link checks a capability link handed in by the caller: absolute,
// http(s), on one line that fits a header.
func link(field, s string) (string, error) {
	if len(s) > maxLink {
		return "", fmt.Errorf("email: %s link: %d characters, at most %d fit a mail header", field, len(s), maxLink)
	}
	u, err := url.Parse(s)
	if err != nil || strings.ContainsFunc(s, isControl) || strings.ContainsAny(s, " <>\"") ||
		(u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("email: %s link %q: want an absolute http(s) URL on one line", field, s)
	}
	return s, nil
}

// when writes a time in the site's zone with the zone named, as
// "Dec 6, 2026 08:14 CET (Europe/Berlin)"; UTC is named once.
func (c *Composer) when(t time.Time) string {
	t = t.In(c.site.Location)
	s := t.Format("Jan 2, 2006 15:04 MST")
	if name := c.site.Location.String(); name != "UTC" && name != t.Format("MST") {
		s += " (" + name + ")"
	}
	return s
}
