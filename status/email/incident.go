package email

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/statuspage"
)

// Incident is one event of an incident (or a maintenance) for one
// subscriber.
type Incident struct {
	Event status.Event
	// FirstEventID is the id of the event whose mail opened the incident's
	// thread; updates answer that mail. "" (or Event.ID) when this is it.
	FirstEventID string
	// Names are the components' public names by id
	// (statuspage.ComponentNames of the event's snapshot).
	Names map[string]string
	To    Subscriber
	// Manage is the subscriber's capability link to the manage page
	// (components, pause, unsubscribe, delete my data); every mail
	// shows it.
	Manage string
	// Unsubscribe is the unsubscribe link, shown beside Manage when set;
	// on an https site it is also the one-click List-Unsubscribe URL (RFC
	// 8058), and required.
	Unsubscribe string
}

// IncidentView is what the incident templates see: public words only.
type IncidentView struct {
	Site, SiteURL string
	// Subject is the mail's subject; Headline is it without the site.
	Subject, Headline string
	// Status is the update's status in words ("Investigating").
	Status string
	Name   string
	Body   string // the update's text
	// Affected lists the components' public names.
	Affected string
	// Window is a maintenance window's time ("Scheduled for …").
	Window string
	// Time is the update's time in the site's zone, the zone named.
	Time        string
	IncidentURL string
	ManageURL   string
	// UnsubscribeURL is the unsubscribe page; "" when the mail has none.
	UnsubscribeURL string
}

// Incident builds the mail of an incident event for one subscriber.
func (c *Composer) Incident(in Incident) (Message, error) {
	ev := in.Event
	if ev.Incident == nil || ev.Type.OperatorsOnly() {
		return Message{}, ErrNoMail
	}
	manage, err := link("manage", in.Manage)
	if err != nil {
		return Message{}, err
	}
	v := c.incidentView(ev, in.Names, manage)
	if in.Unsubscribe != "" {
		if v.UnsubscribeURL, err = link("unsubscribe", in.Unsubscribe); err != nil {
			return Message{}, err
		}
	}
	h := headers{id: MessageID(ev.ID, in.To.ID, c.host), subject: v.Subject, to: in.To, date: ev.At}
	if in.FirstEventID != "" && in.FirstEventID != ev.ID {
		h.thread = MessageID(in.FirstEventID, in.To.ID, c.host)
	}
	if c.oneTap {
		if h.unsubscribe, err = link("one-click unsubscribe", in.Unsubscribe); err != nil {
			return Message{}, err
		}
		if !strings.HasPrefix(h.unsubscribe, "https://") {
			return Message{}, fmt.Errorf("email: one-click unsubscribe link %q: RFC 8058 wants https", in.Unsubscribe)
		}
	}
	text, html, err := c.tpl.render(kindIncident, v)
	if err != nil {
		return Message{}, err
	}
	return c.build(h, text, html)
}

// incidentView puts the event in the page's words (statuspage's view of
// the incident), never the event's private details.
func (c *Composer) incidentView(ev status.Event, names map[string]string, manage string) IncidentView {
	inc := ev.Incident
	iv := statuspage.NewIncidentView(inc, names, c.site.Location)
	v := IncidentView{
		Site: oneLine(c.site.Title), SiteURL: c.base + "/", Name: oneLine(inc.Name),
		Status: statuspage.IncidentStatusText(inc.Status), Affected: iv.Affected, Window: iv.Window,
		Time: c.when(ev.At), IncidentURL: c.base + "/incidents/" + url.PathEscape(inc.ID), ManageURL: manage,
	}
	if u := ev.Update; u != nil {
		v.Status, v.Body = statuspage.IncidentStatusText(u.Status), u.Body
		if !u.DisplayAt.IsZero() {
			v.Time = c.when(u.DisplayAt)
		}
		if v.Affected == "" {
			v.Affected = changedNames(u.Affected)
		}
	}
	v.Headline = v.Status + ": " + v.Name
	v.Subject = "[" + v.Site + "] " + v.Headline
	return v
}

// changedNames lists the components an update names, for an incident
// whose components the caller gave no names for.
func changedNames(cs []status.ComponentChange) string {
	var out []string
	for _, c := range cs {
		if n := oneLine(c.Name); n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, ", ")
}
