package email

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
)

// parsed is a built mail read back as a mail client reads it.
type parsed struct {
	raw        string
	hdr        mail.Header
	text, html string
}

func parse(t *testing.T, m Message) parsed {
	t.Helper()
	var b bytes.Buffer
	if _, err := m.WriteTo(&b); err != nil {
		t.Fatalf("write: %v", err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatalf("read back: %v\n%s", err, b.String())
	}
	p := parsed{raw: b.String(), hdr: msg.Header}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v): want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("part: %v", err)
		}
		b, _ := io.ReadAll(part)
		body := strings.ReplaceAll(string(b), "\r\n", "\n") // the wire's line ends, as a client reads them
		switch ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); ct {
		case "text/plain":
			p.text = body
		case "text/html":
			p.html = body
		}
	}
	if p.text == "" || p.html == "" {
		t.Fatalf("want a text and an HTML part:\n%s", p.raw)
	}
	return p
}

func decoded(t *testing.T, h mail.Header, key string) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(h.Get(key))
	if err != nil {
		t.Fatalf("%s %q: %v", key, h.Get(key), err)
	}
	return s
}

var berlin = func() *time.Location {
	l, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return l
}()

var t0 = time.Date(2026, 12, 6, 7, 14, 0, 0, time.UTC)

func composer(t testing.TB, siteURL, title string) *Composer {
	t.Helper()
	c, err := NewComposer(Options{Site: Site{Title: title, URL: siteURL, Location: berlin}, From: "status@example.com", ReplyTo: "Support <help@example.com>"})
	if err != nil {
		t.Fatalf("NewComposer: %v", err)
	}
	return c
}

func incidentEvent(typ status.EventType, id string, st status.IncidentStatus, body string) status.Event {
	inc := &status.Incident{ID: "inc-3", Name: "Public API is unavailable", Status: st, Impact: status.ImpactMajor,
		Components: []string{"api"}, StartedAt: t0, CreatedAt: t0,
		Updates: []status.Update{{ID: "upd-1", Status: status.Investigating, Body: "We are looking into it.", DisplayAt: t0}}}
	up := &status.Update{ID: "upd-2", Status: st, Body: body, DisplayAt: t0.Add(20 * time.Minute), Author: "oncall-token"}
	if typ == status.IncidentCreated {
		up = &inc.Updates[0]
	} else {
		inc.Updates = append(inc.Updates, *up)
	}
	return status.Event{ID: id, Seq: 99, Type: typ, At: up.DisplayAt, Incident: inc, Update: up,
		Private: &status.Private{Checks: []status.CheckDetail{{Name: "api-health-secret", Component: "api", Message: "dial tcp 10.0.0.7:443: refused"}}}}
}

func subscriberIn(ev status.Event, first string) Incident {
	return Incident{Event: ev, FirstEventID: first, Names: map[string]string{"api": "Public API"},
		To: Subscriber{ID: "sub-42", Address: "reader@example.net"}, Manage: "https://status.example.com/subscriptions/manage?t=abc",
		Unsubscribe: "https://status.example.com/subscriptions/unsubscribe?t=def"}
}
