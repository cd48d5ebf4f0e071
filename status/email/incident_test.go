package email

import (
	"errors"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
)

func TestIncidentMail(t *testing.T) {
	created := incidentEvent(status.IncidentCreated, "evt-7", status.Investigating, "")
	resolved := incidentEvent(status.IncidentResolved, "evt-1764167400123", status.Resolved, "Fixed: a bad deploy was rolled back.")
	for _, tc := range []struct {
		name, siteURL, title string
		in                   Incident
		subject, id, thread  string
		oneClick             bool
		text                 []string
	}{
		{name: "first mail of an incident on an https site", siteURL: "https://status.example.com", title: "Acme Status", in: subscriberIn(created, "evt-7"),
			subject: "[Acme Status] Investigating: Public API is unavailable", id: "<outpost.evt-7.sub-42@status.example.com>", oneClick: true,
			text: []string{"Investigating: Public API is unavailable\n", "We are looking into it.", "Affected: Public API",
				"Posted: Dec 6, 2026 08:14 CET (Europe/Berlin)", "\nhttps://status.example.com/incidents/inc-3\n",
				"\nManage your subscription (components, pause, delete your data):\nhttps://status.example.com/subscriptions/manage?t=abc\n",
				"\nUnsubscribe:\nhttps://status.example.com/subscriptions/unsubscribe?t=def"}},
		{name: "an update threads under the first mail", siteURL: "https://status.example.com/", title: "Acme Status", in: subscriberIn(resolved, "evt-7"),
			subject: "[Acme Status] Resolved: Public API is unavailable", id: "<outpost.evt-1764167400123.sub-42@status.example.com>",
			thread: "<outpost.evt-7.sub-42@status.example.com>", oneClick: true,
			text: []string{"Fixed: a bad deploy was rolled back.", "Status: Resolved", "Posted: Dec 6, 2026 08:34 CET (Europe/Berlin)"}},
		{name: "http site: no List-Unsubscribe, the manage link in the body", siteURL: "http://status.example.com:8080", title: "Acme Status", in: subscriberIn(created, ""),
			subject: "[Acme Status] Investigating: Public API is unavailable", id: "<outpost.evt-7.sub-42@status.example.com>",
			text: []string{"\nhttps://status.example.com/subscriptions/manage?t=abc\n", "http://status.example.com:8080/incidents/inc-3"}},
		{name: "a maintenance window, in the site's zone", siteURL: "https://status.example.com", title: "Acme Status", in: func() Incident {
			ev := incidentEvent(status.MaintenanceScheduled, "evt-8", status.MaintScheduled, "Upgrading the database.")
			ev.Incident.Name, ev.Incident.Status, ev.Incident.Updates = "Database upgrade", status.MaintScheduled, ev.Incident.Updates[1:]
			ev.Incident.StartedAt = time.Time{}
			ev.Incident.Maintenance = &status.MaintenanceInfo{WindowID: "w1", ScheduledFor: t0.Add(2 * time.Hour), ScheduledUntil: t0.Add(3 * time.Hour)}
			return subscriberIn(ev, "")
		}(), subject: "[Acme Status] Scheduled: Database upgrade", id: "<outpost.evt-8.sub-42@status.example.com>", oneClick: true,
			text: []string{"Upgrading the database.", "Scheduled for Dec 6, 10:14 – 11:14 CET"}},
		{name: "non-ASCII site and incident names", siteURL: "https://status.example.com", title: "Störungsmelder Zürich", in: func() Incident {
			in := subscriberIn(incidentEvent(status.IncidentCreated, "evt-7", status.Investigating, ""), "")
			in.Event.Incident.Name = "Öffentliche API nicht erreichbar — 接続"
			return in
		}(), subject: "[Störungsmelder Zürich] Investigating: Öffentliche API nicht erreichbar — 接続", id: "<outpost.evt-7.sub-42@status.example.com>", oneClick: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := composer(t, tc.siteURL, tc.title).Incident(tc.in)
			if err != nil {
				t.Fatalf("Incident: %v", err)
			}
			p := parse(t, m)
			if got := decoded(t, p.hdr, "Subject"); got != tc.subject {
				t.Errorf("Subject %q, want %q", got, tc.subject)
			}
			head, _, _ := strings.Cut(p.raw, "\r\n\r\n")
			if strings.ContainsFunc(head, func(r rune) bool { return r > 127 }) {
				t.Errorf("a header is not RFC 2047 encoded:\n%s", head)
			}
			if from := decodedAddr(t, p.hdr.Get("From")); !strings.Contains(from, tc.title) && !strings.Contains(decoded(t, p.hdr, "From"), tc.title) {
				t.Errorf("From %q does not carry the site's name %q", p.hdr.Get("From"), tc.title)
			}
			checkHeaders(t, p, tc.id, tc.thread, tc.oneClick, tc.in)
			for _, want := range tc.text {
				if !strings.Contains(p.text, want) {
					t.Errorf("text part lacks %q:\n%s", want, p.text)
				}
			}
			for _, private := range []string{"api-health-secret", "10.0.0.7", "oncall-token"} {
				if strings.Contains(p.raw, private) {
					t.Errorf("the mail shows the private %q", private)
				}
			}
		})
	}
}

func checkHeaders(t *testing.T, p parsed, id, thread string, oneClick bool, in Incident) {
	t.Helper()
	want := map[string]string{"Message-Id": id, "In-Reply-To": thread, "References": thread, "Auto-Submitted": "auto-generated",
		"To": "<" + in.To.Address + ">", "Reply-To": `"Support" <help@example.com>`}
	if oneClick {
		want["List-Unsubscribe"], want["List-Unsubscribe-Post"] = "<"+in.Unsubscribe+">", "List-Unsubscribe=One-Click"
	} else {
		want["List-Unsubscribe"], want["List-Unsubscribe-Post"] = "", ""
	}
	for k, v := range want {
		if got := p.hdr.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if d, err := p.hdr.Date(); err != nil || !d.Equal(in.Event.At) {
		t.Errorf("Date %q (%v), want the event's time %v", p.hdr.Get("Date"), err, in.Event.At)
	}
	from, err := mail.ParseAddress(decodedAddr(t, p.hdr.Get("From")))
	if err != nil || from.Address != "status@example.com" || from.Name == "" {
		t.Errorf("From %q: want the site's name on status@example.com (%v)", p.hdr.Get("From"), err)
	}
	if n := len(p.hdr["To"]); n != 1 || strings.Contains(p.hdr.Get("To"), ",") {
		t.Errorf("To %q: want the one subscriber", p.hdr["To"])
	}
	for _, h := range []string{"<meta name=\"color-scheme\" content=\"light dark\">", "prefers-color-scheme: dark",
		`href="https://status.example.com/subscriptions/manage?t=abc" style="color:#0b57d0;">Manage your subscription</a>`,
		`href="https://status.example.com/subscriptions/unsubscribe?t=def" style="color:#0b57d0;">Unsubscribe</a>`} {
		if !strings.Contains(p.html, h) {
			t.Errorf("HTML part lacks %q", h)
		}
	}
}

func decodedAddr(t *testing.T, s string) string {
	t.Helper()
	a, err := (&mail.AddressParser{}).Parse(s) // net/mail decodes RFC 2047 names itself
	if err != nil {
		t.Fatalf("address %q: %v", s, err)
	}
	return a.String()
}

func TestMailIsDeterministic(t *testing.T) {
	c := composer(t, "https://status.example.com", "Acme Status")
	in := subscriberIn(incidentEvent(status.IncidentUpdated, "evt-9", status.Identified, "Rolling back."), "evt-7")
	a, errA := c.Incident(in)
	b, errB := c.Incident(in)
	if errA != nil || errB != nil {
		t.Fatalf("Incident: %v, %v", errA, errB)
	}
	pa, pb := parse(t, a), parse(t, b)
	if pa.raw != pb.raw {
		t.Errorf("the same input gave different bytes:\n%s\n---\n%s", pa.raw, pb.raw)
	}
}

func TestNoMailForOtherEvents(t *testing.T) {
	c := composer(t, "https://status.example.com", "Acme Status")
	for name, ev := range map[string]status.Event{
		"component change outside an incident": {ID: "evt-1", Type: status.ComponentStatusChanged, Component: &status.ComponentEvent{ID: "api", Name: "API"}},
		"operators' event":                     {ID: "evt-2", Type: status.MonitorDelayed, Text: "probes are late"},
	} {
		t.Run(name, func(t *testing.T) {
			in := subscriberIn(ev, "")
			if _, err := c.Incident(in); !errors.Is(err, ErrNoMail) {
				t.Errorf("err %v, want ErrNoMail", err)
			}
		})
	}
}
