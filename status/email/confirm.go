package email

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// ConfirmValidity is how long a confirmation link works.
const ConfirmValidity = 24 * time.Hour

// Confirmation is the double opt-in mail: one link that confirms.
type Confirmation struct {
	// ID is the restore-safe id of the subscription request; with the
	// subscriber's id it makes the Message-ID.
	ID string
	To Subscriber
	// Link confirms (a GET shows a "Confirm" button, its POST confirms);
	// its path holds "confirm".
	Link string
	// At is when the request was made; the link expires ConfirmValidity
	// later.
	At time.Time
}

// ConfirmView is what the confirmation templates see.
type ConfirmView struct {
	Site, SiteURL, Subject string
	ConfirmURL             string
	// Expires is when the link stops working, in the site's zone.
	Expires string
}

// Confirm builds the confirmation mail. The link stands bare on its own
// line in the text part, so every client makes it clickable and none
// wraps it.
func (c *Composer) Confirm(in Confirmation) (Message, error) {
	l, err := link("confirmation", in.Link)
	if err != nil {
		return Message{}, err
	}
	if u, _ := url.Parse(l); !strings.Contains(u.Path, "confirm") {
		return Message{}, fmt.Errorf("email: confirmation link %q: its path must hold \"confirm\"", in.Link)
	}
	if in.ID == "" {
		return Message{}, fmt.Errorf("email: confirmation without a request id")
	}
	v := ConfirmView{
		Site: oneLine(c.site.Title), SiteURL: c.base + "/", ConfirmURL: l,
		Expires: c.when(in.At.Add(ConfirmValidity)),
	}
	v.Subject = "[" + v.Site + "] Confirm your subscription"
	text, html, err := c.tpl.render(kindConfirm, v)
	if err != nil {
		return Message{}, err
	}
	return c.build(headers{id: MessageID(in.ID, in.To.ID, c.host), subject: v.Subject, to: in.To, date: in.At}, text, html)
}
