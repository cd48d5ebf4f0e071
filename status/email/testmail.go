package email

import (
	"fmt"
	"html"
	"strconv"
	"time"
)

// TestMail builds `outpost notify test -email`'s mail: marked as a test in
// its subject and text, so the operator checking the email section can
// tell it from a real announcement. Its Message-ID carries the time, so
// every run is a new mail.
func (c *Composer) TestMail(to string, at time.Time) (Message, error) {
	site := oneLine(c.site.Title)
	subject := "[" + site + "] Test message from Outpost"
	text := fmt.Sprintf("This is a test message from Outpost for %s, sent %s.\n"+
		"If you can read it, Outpost can send mail through its email section; no action is needed.\n", site, c.when(at))
	body := "<p>" + html.EscapeString(text) + "</p>"
	id := MessageID("test-"+strconv.FormatInt(at.UnixNano(), 10), "operator", c.host)
	return c.build(headers{id: id, subject: subject, to: Subscriber{ID: "operator", Address: to}, date: at}, text, body)
}
