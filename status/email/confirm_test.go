package email

import (
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
)

func TestConfirmationMail(t *testing.T) {
	c := composer(t, "https://status.example.com", "Acme Status")
	link := "https://status.example.com/subscribe/confirm?t=Zm9vYmFy"
	m, err := c.Confirm(Confirmation{ID: "req-5", To: Subscriber{ID: "sub-42", Address: "reader@example.net"}, Link: link, At: t0})
	if err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	p := parse(t, m)
	if !slices.Contains(strings.Split(p.text, "\n"), link) {
		t.Errorf("the confirmation link is not bare on a line of its own:\n%s", p.text)
	}
	if !strings.Contains(p.text, "until Dec 7, 2026 08:14 CET (Europe/Berlin) (24 hours)") {
		t.Errorf("the text does not say the link works 24 hours, in the site's zone:\n%s", p.text)
	}
	if got := p.hdr.Get("Message-Id"); got != "<outpost.req-5.sub-42@status.example.com>" {
		t.Errorf("Message-ID %q", got)
	}
	if got := decoded(t, p.hdr, "Subject"); got != "[Acme Status] Confirm your subscription" {
		t.Errorf("Subject %q", got)
	}
	if p.hdr.Get("List-Unsubscribe") != "" {
		t.Error("a confirmation is no list mail: no List-Unsubscribe")
	}
	for _, bad := range []string{"https://status.example.com/subscribe?t=x", "/subscribe/confirm?t=x", "javascript:confirm(1)"} {
		if _, err := c.Confirm(Confirmation{ID: "req-5", To: Subscriber{ID: "s", Address: "reader@example.net"}, Link: bad, At: t0}); err == nil {
			t.Errorf("link %q was taken: want a clear error", bad)
		}
	}
}

// TestNoHeaderInjection puts CR/LF in every field a mail is made of:
// each is refused with a clear error or reaches no header as a line of
// its own.
func TestNoHeaderInjection(t *testing.T) {
	const evil = "x\r\nBcc: victim@example.org\r\nX-Injected: yes"
	ev := func(f func(*status.Event)) status.Event {
		e := incidentEvent(status.IncidentUpdated, "evt-9", status.Identified, "Rolling back.")
		f(&e)
		return e
	}
	for _, tc := range []struct {
		name    string
		title   string
		in      Incident
		refused bool
	}{
		{name: "incident name", in: subscriberIn(ev(func(e *status.Event) { e.Incident.Name = evil }), "evt-7")},
		{name: "update body", in: subscriberIn(ev(func(e *status.Event) { e.Update.Body = evil }), "evt-7")},
		{name: "site title", title: "Acme" + evil, in: subscriberIn(ev(func(*status.Event) {}), "evt-7")},
		{name: "event id", in: subscriberIn(ev(func(e *status.Event) { e.ID = evil }), evil)},
		{name: "subscriber id", in: func() Incident {
			in := subscriberIn(ev(func(*status.Event) {}), "evt-7")
			in.To.ID = evil
			return in
		}()},
		{name: "subscriber address", refused: true, in: func() Incident {
			in := subscriberIn(ev(func(*status.Event) {}), "evt-7")
			in.To.Address = "reader@example.net" + evil
			return in
		}()},
		{name: "manage link", refused: true, in: func() Incident {
			in := subscriberIn(ev(func(*status.Event) {}), "evt-7")
			in.Manage += evil
			return in
		}()},
		{name: "unsubscribe link past a header line's length", refused: true, in: func() Incident {
			in := subscriberIn(ev(func(*status.Event) {}), "evt-7")
			in.Unsubscribe += strings.Repeat("a", 1000)
			return in
		}()},
		{name: "unsubscribe link", refused: true, in: func() Incident {
			in := subscriberIn(ev(func(*status.Event) {}), "evt-7")
			in.Unsubscribe += evil
			return in
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			title := "Acme Status"
			if tc.title != "" {
				title = tc.title
			}
			m, err := composer(t, "https://status.example.com", title).Incident(tc.in)
			if tc.refused {
				if err == nil || !strings.Contains(err.Error(), "email:") {
					t.Fatalf("err %v: want a clear error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Incident: %v", err)
			}
			p := parse(t, m)
			for _, k := range []string{"Bcc", "X-Injected"} {
				if _, ok := p.hdr[textproto.CanonicalMIMEHeaderKey(k)]; ok {
					t.Errorf("the value became a %s header:\n%s", k, p.raw)
				}
			}
			if n := len(p.hdr["Message-Id"]); n != 1 || strings.ContainsAny(p.hdr.Get("Message-Id"), " \t") {
				t.Errorf("Message-ID %q", p.hdr["Message-Id"])
			}
		})
	}
	for _, from := range []string{"status@example.com\r\nBcc: victim@example.org", "Acme\r\nBcc: victim@example.org <status@example.com>"} {
		if _, err := NewComposer(Options{Site: Site{Title: "Acme", URL: "https://status.example.com"}, From: from}); err == nil {
			t.Errorf("from %q was taken: want a clear error", from)
		}
	}
}

func TestTemplateOverrides(t *testing.T) {
	site := Site{Title: "Acme Status", URL: "https://status.example.com"}
	for _, tc := range []struct {
		name, key, src, err string
	}{
		{"unknown name", "welcome.txt", "hi", `email template "welcome.txt": unknown`},
		{"does not parse", "incident.txt", "{{.Headline", "email template incident.txt:"},
		{"unknown field", "incident.txt", "{{.Private}}", "render incident.txt:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewComposer(Options{Site: site, From: "status@example.com", Templates: map[string]string{tc.key: tc.src}})
			if err == nil {
				_, err = c.Incident(subscriberIn(incidentEvent(status.IncidentCreated, "evt-7", status.Investigating, ""), ""))
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err %v, want %q", err, tc.err)
			}
		})
	}
	c, err := NewComposer(Options{Site: site, From: "status@example.com", Templates: map[string]string{"incident.txt": "Custom: {{.Headline}}\n{{.ManageURL}}\n"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Incident(subscriberIn(incidentEvent(status.IncidentCreated, "evt-7", status.Investigating, ""), ""))
	if err != nil {
		t.Fatal(err)
	}
	if p := parse(t, m); !strings.HasPrefix(p.text, "Custom: Investigating: Public API is unavailable") || !strings.Contains(p.html, "prefers-color-scheme") {
		t.Errorf("override not used for the text part, or the HTML part lost its default:\n%s", p.text)
	}
}

func TestIncompleteInputIsRefused(t *testing.T) {
	c := composer(t, "https://status.example.com", "Acme Status")
	good := func() Incident {
		return subscriberIn(incidentEvent(status.IncidentCreated, "evt-7", status.Investigating, ""), "")
	}
	for _, tc := range []struct {
		name string
		edit func(*Incident)
		err  string
	}{
		{"no subscriber id", func(in *Incident) { in.To.ID = "" }, "a subscriber without an id"},
		{"no time", func(in *Incident) { in.Event.At = time.Time{} }, "has no time for its Date"},
		{"no manage link", func(in *Incident) { in.Manage = "" }, "manage link"},
		{"an http one-click link on an https site", func(in *Incident) { in.Unsubscribe = "http://status.example.com/u?t=1" }, "RFC 8058 wants https"},
		{"a bad address", func(in *Incident) { in.To.Address = "not an address" }, "subscriber address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := good()
			tc.edit(&in)
			if _, err := c.Incident(in); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err %v, want %q", err, tc.err)
			}
		})
	}
}
