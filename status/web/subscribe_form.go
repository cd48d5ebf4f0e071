package web

import (
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// EmailRequest is a valid subscribe form: what the subscriber pipeline is
// asked to start (a confirmation mail; nothing is sent before that).
type EmailRequest struct {
	// Address is the bare address, as typed (trimmed).
	Address string
	// Components are the chosen component ids; nil means all of them,
	// including components added later.
	Components []string
	// Maintenance: incidents and maintenance; false: incidents only.
	Maintenance bool
}

// formError is a problem with one field of a form; Field "" is the form
// as a whole.
type formError struct{ Field, Message string }

// subscribeForm is what parseSubscribeForm makes of a POST /subscribe.
type subscribeForm struct {
	Req EmailRequest
	// Bot: the honeypot was filled. The answer is the usual one, and
	// nothing is done.
	Bot    bool
	Errors []formError
}

// The subscribe form's fields. "listed" says the component boxes were on
// the page: without it (a POST carrying only email) no box means all
// components; with it, no box ticked is a mistake to point out.
const (
	fieldEmail     = "email"
	fieldListed    = "listed"
	fieldComponent = "component"
	fieldEvents    = "events"
	// fieldHoneypot is hidden from people and screen readers; a name
	// that browsers' autofill does not recognise, so no person fills it.
	fieldHoneypot = "nickname_hp"
)

// maxAddress is RFC 5321's limit on a forward path (254 characters of
// address); maxLocal its limit on the part before the @.
const (
	maxAddress = 254
	maxLocal   = 64
)

// parseSubscribeForm reads and checks a subscribe form's body (at most
// maxBody bytes). It does no I/O, so every rule is in one table test.
func parseSubscribeForm(body []byte, components []string, maxBody int) subscribeForm {
	if len(body) > maxBody {
		return subscribeForm{Errors: []formError{{"", fmt.Sprintf("The form is too large (at most %d KiB).", maxBody>>10)}}}
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return subscribeForm{Errors: []formError{{"", "The form could not be read; reload the page and try again."}}}
	}
	if v.Get(fieldHoneypot) != "" {
		return subscribeForm{Bot: true}
	}
	var f subscribeForm
	bad := func(field, format string, args ...any) {
		f.Errors = append(f.Errors, formError{field, fmt.Sprintf(format, args...)})
	}
	f.Req.Address = formAddress(v[fieldEmail], bad)
	f.Req.Components = formComponents(v, components, bad)
	f.Req.Maintenance = formEvents(v[fieldEvents], bad)
	return f
}

// formAddress checks the one address: a bare addr-spec (no name, no
// <>), on one line, within SMTP's lengths, at a domain name.
func formAddress(vals []string, bad func(field, format string, args ...any)) string {
	if len(vals) > 1 {
		bad(fieldEmail, "Enter one address only.")
		return ""
	}
	s := ""
	if len(vals) == 1 {
		s = strings.TrimSpace(vals[0])
	}
	switch {
	case s == "":
		bad(fieldEmail, "Enter your email address.")
	case strings.ContainsFunc(s, isControl):
		bad(fieldEmail, "The address must be on one line, with no control characters.")
	case utf8.RuneCountInString(s) > maxAddress:
		bad(fieldEmail, "The address is too long (at most %d characters).", maxAddress)
	case strings.ContainsFunc(s, func(r rune) bool { return r >= utf8.RuneSelf }):
		// Invisible and reordering characters (U+200B, U+202E, U+2028)
		// would make an address that reads as another; and mail with
		// them needs SMTPUTF8, which the pipeline does not speak yet.
		bad(fieldEmail, "Use only ASCII letters, digits and symbols: addresses with other characters (SMTPUTF8) are not supported yet; for an international domain, enter its xn-- form.")
	case strings.ContainsAny(s, ",;"):
		bad(fieldEmail, "Enter one address only.")
	case strings.ContainsAny(s, "<>"):
		bad(fieldEmail, "Enter just the address, like name@example.com, without a name or <>.")
	default:
		a, err := mail.ParseAddress(s)
		if err != nil {
			bad(fieldEmail, "%q is not an email address (like name@example.com).", s)
			return ""
		}
		if a.Name != "" || a.Address != s {
			bad(fieldEmail, "Enter just the address, like name@example.com, without a name or <>.")
			return ""
		}
		return checkParts(s, bad)
	}
	return ""
}

// checkParts applies the rules net/mail leaves out: the local part's
// length, and a host name a mail can be routed to (see isMailDomain).
func checkParts(s string, bad func(field, format string, args ...any)) string {
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	switch {
	case len(local) > maxLocal:
		bad(fieldEmail, "The address has more than %d characters before the @; at most %d characters before the @ are allowed.", maxLocal, maxLocal)
	case !isMailDomain(domain):
		bad(fieldEmail, "The part after the @ must be a domain name, like example.com: letters, digits and hyphens, at most 63 between dots, not an IP address.")
	default:
		return s
	}
	return ""
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

// formComponents reads the ticked components: nil (all) when none were
// listed or every one is ticked.
func formComponents(v url.Values, known []string, bad func(field, format string, args ...any)) []string {
	picked := v[fieldComponent]
	if len(picked) == 0 && v.Get(fieldListed) == "" {
		return nil
	}
	var out []string
	for _, id := range picked {
		switch {
		case strings.ContainsFunc(id, isControl):
			bad(fieldComponent, "A component must be one line, with no control characters.")
			return nil
		case !slices.Contains(known, id):
			bad(fieldComponent, "Unknown component %q: reload the page to see the current ones.", clip(id, 64))
			return nil
		case !slices.Contains(out, id):
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		bad(fieldComponent, "Choose at least one component.")
		return nil
	}
	if len(out) == len(known) {
		return nil
	}
	slices.Sort(out)
	return out
}

// formEvents reads what to hear about: "all" (incidents and
// maintenance, the default) or "incidents".
func formEvents(vals []string, bad func(field, format string, args ...any)) bool {
	if len(vals) == 0 {
		return true
	}
	switch e := vals[0]; {
	case len(vals) > 1:
	case strings.ContainsFunc(e, isControl):
		bad(fieldEvents, "The choice must be one line, with no control characters.")
		return false
	case e == "all" || e == "":
		return true
	case e == "incidents":
		return false
	}
	bad(fieldEvents, "Choose incidents and maintenance, or incidents only.")
	return false
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// clip shortens what a form sent back to the page it is quoted on.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
