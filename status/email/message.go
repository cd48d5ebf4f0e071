package email

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Subscriber is the one recipient of a mail.
type Subscriber struct {
	// ID is the subscriber's stable id: with an event's id it makes the
	// mail's Message-ID.
	ID      string
	Address string
}

// Message is one built mail for one recipient, ready for the transport.
type Message struct {
	// ID is the Message-ID without its angle brackets.
	ID string
	// To is the envelope recipient: the subscriber's address.
	To string
	// From is the envelope sender.
	From string
	msg  *gomail.Msg
}

// WriteTo writes the mail as it goes over the wire (CRLF line ends).
func (m Message) WriteTo(w io.Writer) (int64, error) {
	if m.msg == nil {
		return 0, fmt.Errorf("email: an empty message")
	}
	return m.msg.WriteTo(w)
}

// MessageID is the Message-ID of the mail announcing an event to a
// subscriber. Event ids are never reissued, not even after a restore
// (docs/operations.md), and subscriber ids are unique, so the id is
// stable across re-sends and unique across mails; a sequence number
// would not be, as a restored backup repeats sequences.
func MessageID(eventID, subscriberID, host string) string {
	return "outpost." + idPart(eventID) + "." + idPart(subscriberID) + "@" + host
}

// idPart keeps a readable id as it is and hashes any other, so the
// Message-ID is always a valid dot-atom whatever an id holds.
func idPart(s string) string {
	if s != "" && len(s) <= 64 && !strings.ContainsFunc(s, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '_'
	}) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "h" + hex.EncodeToString(sum[:12])
}

// headers is what every mail carries besides its parts.
type headers struct {
	id, subject string
	to          Subscriber
	date        time.Time
	// thread is the Message-ID this mail answers ("": the first).
	thread string
	// unsubscribe is the one-click URL; set only when it may be offered.
	unsubscribe string
}

// build makes the go-mail message. Every generic header goes through
// SetGenHeader, which go-mail writes sorted: the same input gives the
// same bytes (the MIME boundary derives from the Message-ID for the same
// reason).
func (c *Composer) build(h headers, text, html string) (Message, error) {
	switch {
	case h.to.ID == "":
		return Message{}, fmt.Errorf("email: a subscriber without an id: its mails could not be told apart")
	case h.date.IsZero():
		return Message{}, fmt.Errorf("email: %s has no time for its Date", h.id)
	}
	to, err := parseAddress("subscriber address", h.to.Address)
	if err != nil {
		return Message{}, err
	}
	sum := sha256.Sum256([]byte(h.id))
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent(), gomail.WithBoundary("outpost-"+hex.EncodeToString(sum[:12])))
	m.FromMailAddress(c.from)
	m.ToMailAddress(&mail.Address{Address: to.Address}) // the address alone: the mail names no one
	if c.replyTo != nil {
		m.ReplyToMailAddress(c.replyTo)
	}
	m.Subject(oneLine(h.subject))
	m.SetMessageIDWithValue(h.id)
	m.SetDateWithValue(h.date.In(c.site.Location))
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	if h.thread != "" {
		m.SetGenHeader(gomail.HeaderInReplyTo, "<"+h.thread+">")
		m.SetGenHeader(gomail.HeaderReferences, "<"+h.thread+">")
	}
	if h.unsubscribe != "" {
		m.SetGenHeader(gomail.HeaderListUnsubscribe, "<"+h.unsubscribe+">")
		m.SetGenHeader(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	}
	m.SetBodyString(gomail.TypeTextPlain, text)
	m.AddAlternativeString(gomail.TypeTextHTML, html)
	return Message{ID: h.id, To: to.Address, From: c.from.Address, msg: m}, nil
}
