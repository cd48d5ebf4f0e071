package web

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/outpost-status/outpost/status/email"
)

// formError is a problem with one field of a form; Field "" is the form
// as a whole.
type formError struct{ Field, Message string }

// errorFor is errs' message for field, "" when it is fine (the views'
// ErrorFor, which the templates call).
func errorFor(errs []formError, field string) string {
	for _, e := range errs {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

// subscribeForm is what parseSubscribeForm makes of a POST /subscribe.
type subscribeForm struct {
	Req email.Request
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

// formAddress checks the one address with the subscriber pipeline's own
// check (email.CheckAddress, which the JSON API uses too).
func formAddress(vals []string, bad func(field, format string, args ...any)) string {
	if len(vals) > 1 {
		bad(fieldEmail, "Enter one address only.")
		return ""
	}
	s := ""
	if len(vals) == 1 {
		s = vals[0]
	}
	addr, err := email.CheckAddress(s)
	if err != nil {
		bad(fieldEmail, "%s", err.Error())
	}
	return addr
}

// formComponents reads the ticked components: nil (all) when none were
// listed or every one is ticked (pickComponents, as the JSON API).
func formComponents(v url.Values, known []string, bad func(field, format string, args ...any)) []string {
	picked := v[fieldComponent]
	if len(picked) == 0 && v.Get(fieldListed) == "" {
		return nil
	}
	out, problem := pickComponents(picked, known)
	if problem != "" {
		bad(fieldComponent, "%s", problem)
	}
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
