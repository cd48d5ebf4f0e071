package email

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// The one check of a subscriber's address: the subscribe form, the JSON
// subscription API and the subscribe service all call CheckAddress, so an
// address one of them takes the others take too. (parseAddress, in
// compose.go, reads the configured From and Reply-To, which may carry a
// display name: a different question.)

// MaxAddress is RFC 5321's limit on a forward path (254 characters of
// address); maxLocal its limit on the part before the @.
const (
	MaxAddress = 254
	maxLocal   = 64
)

// ErrAddress is what every refusal of CheckAddress wraps.
var ErrAddress = errors.New("not a subscriber address")

// addressError is a refused address; its text is a sentence for the
// person who typed it (the form and the API show it as it is).
type addressError struct{ msg string }

func (e *addressError) Error() string { return e.msg }
func (e *addressError) Unwrap() error { return ErrAddress }

func badAddress(format string, args ...any) error {
	return &addressError{msg: fmt.Sprintf(format, args...)}
}

// CheckAddress returns s trimmed if it is an address Outpost mails: a
// bare addr-spec (no name, no <>), on one line with no control
// character, ASCII only, within SMTP's lengths, at a domain name (see
// isMailDomain). A refusal wraps ErrAddress and says what to fix.
func CheckAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", badAddress("Enter your email address.")
	case strings.ContainsFunc(s, isControl):
		return "", badAddress("The address must be on one line, with no control characters.")
	case utf8.RuneCountInString(s) > MaxAddress:
		return "", badAddress("The address is too long (at most %d characters).", MaxAddress)
	case strings.ContainsFunc(s, func(r rune) bool { return r >= utf8.RuneSelf }):
		// Invisible and reordering characters (U+200B, U+202E, U+2028)
		// would make an address that reads as another; and mail with
		// them needs SMTPUTF8, which the pipeline does not speak yet.
		return "", badAddress("Use only ASCII letters, digits and symbols: addresses with other characters (SMTPUTF8) are not supported yet; for an international domain, enter its xn-- form.")
	case strings.ContainsAny(s, ",;"):
		return "", badAddress("Enter one address only.")
	case strings.ContainsAny(s, "<>"):
		return "", badAddress("Enter just the address, like name@example.com, without a name or <>.")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", badAddress("%q is not an email address (like name@example.com).", s)
	}
	if a.Name != "" || a.Address != s {
		return "", badAddress("Enter just the address, like name@example.com, without a name or <>.")
	}
	if err := checkParts(s); err != nil {
		return "", err
	}
	return s, nil
}

// checkParts applies the rules net/mail leaves out: the local part's
// length, and a host name a mail can be routed to (see isMailDomain).
func checkParts(s string) error {
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	switch {
	case len(local) > maxLocal:
		return badAddress("The address has more than %d characters before the @; at most %d characters before the @ are allowed.", maxLocal, maxLocal)
	case !isMailDomain(domain):
		return badAddress("The part after the @ must be a domain name, like example.com: letters, digits and hyphens, at most 63 between dots, not an IP address.")
	}
	return nil
}

// isMailDomain says d is a host name of at least two labels, each 1 to 63
// letters, digits and hyphens not at either end (RFC 1123), with a top
// label that is not all digits: so no address literal, no IP address
// (1.2.3.4), no bare host name like localhost, no underscore.
func isMailDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 || strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		if strings.ContainsFunc(l, func(r rune) bool {
			return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-')
		}) {
			return false
		}
	}
	return true
}
