package web

import (
	"fmt"
	"strings"
	"testing"

	"github.com/outpost-status/outpost/status/email"
)

// The subscribe form's rules, as a pure function: every bad input gets a
// message at its field; a filled honeypot looks like success and does
// nothing.
func TestParseSubscribeForm(t *testing.T) {
	comps := []string{"api", "web", "db"}
	const max = 4 << 10
	long := strings.Repeat("a", 243) + "@example.com" // 255 characters
	for _, tc := range []struct {
		name, body string
		want       email.Request
		bot        bool
		errs       []string // "field: part of the message"
	}{
		{name: "only email: all components, all events", body: "email=reader%40example.net",
			want: email.Request{Address: "reader@example.net", Maintenance: true}},
		{name: "spaces around are trimmed", body: "email=+reader%40example.net+",
			want: email.Request{Address: "reader@example.net", Maintenance: true}},
		{name: "chosen components, incidents only", body: "email=r%40example.net&listed=1&component=db&component=api&component=db&events=incidents",
			want: email.Request{Address: "r@example.net", Components: []string{"api", "db"}}},
		{name: "every component chosen is all", body: "email=r%40example.net&listed=1&component=api&component=web&component=db&events=all",
			want: email.Request{Address: "r@example.net", Maintenance: true}},
		{name: "honeypot filled", body: "email=r%40example.net&nickname_hp=x", bot: true},
		{name: "honeypot filled, even with errors", body: "email=nope&nickname_hp=x", bot: true},
		{name: "no email", body: "events=all", errs: []string{"email: Enter your email address"}},
		{name: "not an address", body: "email=reader", errs: []string{"email: is not an email address"}},
		{name: "display name", body: "email=Reader+%3Cr%40example.net%3E", errs: []string{"email: just the address"}},
		{name: "angle brackets", body: "email=%3Cr%40example.net%3E", errs: []string{"email: just the address"}},
		{name: "two addresses", body: "email=a%40example.net%2C+b%40example.net", errs: []string{"email: one address"}},
		{name: "two email fields", body: "email=a%40example.net&email=b%40example.net", errs: []string{"email: one address"}},
		{name: "CRLF header injection in email", body: "email=r%40example.net%0D%0ABcc%3A+v%40example.org", errs: []string{"email: one line"}},
		{name: "LF in events", body: "email=r%40example.net&events=all%0ABcc%3A+x", errs: []string{"events: one line"}},
		{name: "CR in component", body: "email=r%40example.net&listed=1&component=api%0D", errs: []string{"component: one line"}},
		{name: "too long", body: "email=" + long, errs: []string{"email: at most 254 characters"}},
		{name: "local part too long", body: "email=" + strings.Repeat("a", 65) + "%40example.net", errs: []string{"email: at most 64 characters before the @"}},
		{name: "no dot in the domain", body: "email=root%40localhost", errs: []string{"email: a domain name"}},
		{name: "an address literal", body: "email=root%40%5B127.0.0.1%5D", errs: []string{"email: a domain name"}},
		{name: "an IP address as the domain", body: "email=a%401.2.3.4", errs: []string{"email: a domain name"}},
		{name: "an IPv4 literal", body: "email=a%40%5B127.0.0.1%5D", errs: []string{"email: a domain name"}},
		{name: "an all-numeric top label", body: "email=a%40example.123", errs: []string{"email: a domain name"}},
		{name: "a label starting and ending with a hyphen", body: "email=a%40-example-.com", errs: []string{"email: a domain name"}},
		{name: "an underscore in the domain", body: "email=a%40ex_ample.com", errs: []string{"email: a domain name"}},
		{name: "an empty label", body: "email=a%40example..com", errs: []string{"email: is not an email address"}},
		{name: "a trailing dot", body: "email=a%40example.com.", errs: []string{"email: is not an email address"}},
		{name: "a label of 64 characters", body: "email=a%40" + strings.Repeat("b", 64) + ".com", errs: []string{"email: a domain name"}},
		{name: "a label of 63 characters is fine", body: "email=a%40" + strings.Repeat("b", 63) + ".example-1.com",
			want: email.Request{Address: "a@" + strings.Repeat("b", 63) + ".example-1.com", Maintenance: true}},
		{name: "line separator U+2028", body: "email=a%E2%80%A8b%40example.com", errs: []string{"email: only ASCII"}},
		{name: "right-to-left override U+202E", body: "email=a%40exa%E2%80%AEmple.com", errs: []string{"email: only ASCII"}},
		{name: "zero-width space U+200B", body: "email=a%E2%80%8B%40example.com", errs: []string{"email: only ASCII"}},
		{name: "an internationalised domain", body: "email=a%40b%C3%BCcher.de", errs: []string{"email: SMTPUTF8"}},
		{name: "its ASCII form is fine", body: "email=a%40xn--bcher-kva.de", want: email.Request{Address: "a@xn--bcher-kva.de", Maintenance: true}},
		{name: "unknown component", body: "email=r%40example.net&listed=1&component=api&component=nope", errs: []string{`component: Unknown component "nope"`}},
		{name: "no component chosen", body: "email=r%40example.net&listed=1", errs: []string{"component: Choose at least one component"}},
		{name: "unknown events", body: "email=r%40example.net&events=everything", errs: []string{"events: Choose"}},
		{name: "several problems at once", body: "email=x&listed=1&component=zz&events=zz",
			errs: []string{"email: is not an email address", `component: Unknown component "zz"`, "events: Choose"}},
		{name: "oversize body", body: "email=r%40example.net&pad=" + strings.Repeat("x", max), errs: []string{": The form is too large"}},
		{name: "not a form", body: "email=%zz", errs: []string{": could not be read"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseSubscribeForm([]byte(tc.body), comps, max)
			var errs []string
			for _, e := range got.Errors {
				errs = append(errs, e.Field+": "+e.Message)
			}
			if len(errs) != len(tc.errs) {
				t.Fatalf("errors %q, want %d matching %q", errs, len(tc.errs), tc.errs)
			}
			for i, w := range tc.errs {
				field, part, _ := strings.Cut(w, ": ")
				if got.Errors[i].Field != field || !strings.Contains(got.Errors[i].Message, part) {
					t.Errorf("error %d: %q, want field %q and %q in the message", i, errs[i], field, part)
				}
			}
			if got.Bot != tc.bot {
				t.Errorf("Bot = %v, want %v", got.Bot, tc.bot)
			}
			if len(tc.errs) == 0 && !tc.bot && fmt.Sprint(got.Req) != fmt.Sprint(tc.want) {
				t.Errorf("request %+v, want %+v", got.Req, tc.want)
			}
		})
	}
}
