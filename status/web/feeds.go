package web

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"html"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/statuspage"
)

// Feeds are written with encoding/xml and encoding/json structs rather
// than gorilla/feeds: it cannot write Atom's second link and invents random
// ids for items without one, and feed readers need stable ids.

// feedLanguage is the language of the texts Outpost writes.
const feedLanguage = "en"

// RSS 2.0.
type rssDoc struct {
	XMLName xml.Name   `xml:"rss"`
	Version string     `xml:"version,attr"`
	Atom    string     `xml:"xmlns:atom,attr"`
	Channel rssChannel `xml:"channel"`
}

type rssChannel struct {
	Title       string    `xml:"title"`
	Link        string    `xml:"link"`
	Description string    `xml:"description"`
	Language    string    `xml:"language"`
	Self        atomLink  `xml:"atom:link"`
	LastBuild   string    `xml:"lastBuildDate"`
	Items       []rssItem `xml:"item"`
}

type rssItem struct {
	Title       string  `xml:"title"`
	Link        string  `xml:"link"`
	GUID        rssGUID `xml:"guid"`
	PubDate     string  `xml:"pubDate"`
	Description string  `xml:"description"`
}

type rssGUID struct {
	IsPermaLink bool   `xml:"isPermaLink,attr"`
	Value       string `xml:",chardata"`
}

// rss is RSS 2.0 at self (its own path: /feed.rss or /history.rss): one
// item per update, newest first, so each update is news with its own date
// and guid (INCIDENT-URL#UPDATE).
func (s *Server) rss(snap *status.Snapshot, es []statuspage.FeedEntry, self string) ([]byte, error) {
	d := rssDoc{Version: "2.0", Atom: "http://www.w3.org/2005/Atom", Channel: rssChannel{
		Title: s.o.Site.Title, Link: s.o.Site.URL + "/", Description: "Incidents and maintenance for " + s.o.Site.Title,
		Language: feedLanguage, Self: atomLink{Href: s.o.Site.URL + self, Rel: "self", Type: "application/rss+xml"},
		LastBuild: statuspage.FeedUpdated(snap, es).Format(time.RFC1123Z)}}
	var items []rssItem
	var at []time.Time
	for _, e := range es {
		for _, u := range e.Updates {
			desc := "<p><strong>" + html.EscapeString(u.Status) + "</strong> - " + html.EscapeString(u.Body) + "</p>"
			if e.When != "" {
				desc += "<p>" + html.EscapeString(e.When) + "</p>"
			}
			if e.Affected != "" {
				desc += "<p>Affected: " + html.EscapeString(e.Affected) + "</p>"
			}
			items = append(items, rssItem{Title: e.Title + ": " + u.Status, Link: e.Link, GUID: rssGUID{IsPermaLink: true, Value: e.Link + "#" + u.ID},
				PubDate: u.At.UTC().Format(time.RFC1123Z), Description: desc})
			at = append(at, u.At)
		}
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return at[b].Compare(at[a]) })
	for _, i := range idx {
		d.Channel.Items = append(d.Channel.Items, items[i])
	}
	return marshalXML(d)
}

// Atom 1.0.
type atomDoc struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Lang    string      `xml:"xml:lang,attr"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Links   []atomLink  `xml:"link"`
	Author  atomPerson  `xml:"author"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomEntry struct {
	ID        string     `xml:"id"`
	Title     string     `xml:"title"`
	Updated   string     `xml:"updated"`
	Published string     `xml:"published"`
	Links     []atomLink `xml:"link"`
	Content   atomText   `xml:"content"`
}

type atomText struct {
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

// atom is Atom 1.0 at self: one entry per incident, updated with its
// latest update.
func (s *Server) atom(snap *status.Snapshot, es []statuspage.FeedEntry, self string) ([]byte, error) {
	d := atomDoc{ID: s.o.Site.URL + "/feed.atom", Lang: feedLanguage, Title: s.o.Site.Title,
		Updated: statuspage.FeedUpdated(snap, es).Format(time.RFC3339),
		Links: []atomLink{{Href: s.o.Site.URL + self, Rel: "self", Type: "application/atom+xml"},
			{Href: s.o.Site.URL + "/", Rel: "alternate", Type: "text/html"}},
		Author: atomPerson{Name: s.o.Site.Title}}
	for _, e := range es {
		d.Entries = append(d.Entries, atomEntry{ID: e.ID, Title: e.Title, Updated: e.Updated.UTC().Format(time.RFC3339),
			Published: e.Published.UTC().Format(time.RFC3339), Links: []atomLink{{Href: e.Link, Rel: "alternate", Type: "text/html"}},
			Content: atomText{Type: "html", Value: e.HTML}})
	}
	return marshalXML(d)
}

func marshalXML(v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// JSON Feed 1.1.
type jsonFeed struct {
	Version     string         `json:"version"`
	Title       string         `json:"title"`
	HomePageURL string         `json:"home_page_url"`
	FeedURL     string         `json:"feed_url"`
	Description string         `json:"description"`
	Language    string         `json:"language"`
	Items       []jsonFeedItem `json:"items"`
}

type jsonFeedItem struct {
	ID            string `json:"id"`
	URL           string `json:"url"`
	Title         string `json:"title"`
	ContentHTML   string `json:"content_html"`
	DatePublished string `json:"date_published"`
	DateModified  string `json:"date_modified"`
}

func (s *Server) jsonFeed(es []statuspage.FeedEntry) ([]byte, error) {
	f := jsonFeed{Version: "https://jsonfeed.org/version/1.1", Title: s.o.Site.Title, HomePageURL: s.o.Site.URL + "/",
		FeedURL: s.o.Site.URL + "/feed.json", Description: "Incidents and maintenance for " + s.o.Site.Title, Language: feedLanguage, Items: []jsonFeedItem{}}
	for _, e := range es {
		f.Items = append(f.Items, jsonFeedItem{ID: e.ID, URL: e.Link, Title: e.Title, ContentHTML: e.HTML,
			DatePublished: e.Published.UTC().Format(time.RFC3339), DateModified: e.Updated.UTC().Format(time.RFC3339)})
	}
	return json.MarshalIndent(f, "", "  ")
}

// ics is scheduled and active maintenance as an iCalendar feed (RFC 5545),
// plus windows cancelled before their end, as STATUS:CANCELLED, so a
// subscribed calendar drops them. Each event carries its own stamps and a
// SEQUENCE that grows with every update, so clients take the new version.
func (s *Server) ics(snap *status.Snapshot) []byte {
	host := "outpost"
	if u, err := url.Parse(s.o.Site.URL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	names := statuspage.IncidentNames(snap)
	var b strings.Builder
	line := func(l string) { b.WriteString(foldICS(l)) }
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//Outpost//Status//EN")
	line("CALSCALE:GREGORIAN")
	line("METHOD:PUBLISH")
	line("X-WR-CALNAME:" + icsText(s.o.Site.Title+" maintenance"))
	for _, inc := range calendarEvents(snap) {
		var aff []string
		for _, c := range inc.Components {
			aff = append(aff, names[c])
		}
		stamp := icsTime(inc.UpdatedAt)
		line("BEGIN:VEVENT")
		line("UID:" + inc.ID + "@" + host)
		line("DTSTAMP:" + stamp)
		line("LAST-MODIFIED:" + stamp)
		line("SEQUENCE:" + strconv.Itoa(max(len(inc.Updates)-1, 0)))
		line("DTSTART:" + icsTime(inc.Maintenance.ScheduledFor))
		line("DTEND:" + icsTime(inc.Maintenance.ScheduledUntil))
		line("SUMMARY:" + icsText(inc.Name))
		when := statuspage.MaintenanceWhen(s.r.public, inc) // DTSTART is UTC: say it in the site's zone too
		line("DESCRIPTION:" + icsText(strings.TrimSpace(inc.Latest().Body+"\n"+when+"\nAffected: "+strings.Join(aff, ", "))))
		if inc.Status == status.MaintCancelled {
			line("STATUS:CANCELLED")
		} else {
			line("STATUS:CONFIRMED")
		}
		line("URL:" + s.o.Site.URL + "/incidents/" + inc.ID)
		line("END:VEVENT")
	}
	line("END:VCALENDAR")
	return []byte(b.String())
}

// calendarEvents are the maintenance windows a calendar should hold: in
// progress, scheduled by people, the next occurrences of configured
// windows, and those cancelled before their end.
func calendarEvents(snap *status.Snapshot) []*status.Incident {
	out := append(slices.Clone(snap.Maintenance), snap.Scheduled...)
	for _, u := range snap.Upcoming {
		out = append(out, u.Incident())
	}
	for _, inc := range snap.Recent {
		if inc.Maintenance != nil && inc.Status == status.MaintCancelled && inc.Maintenance.ScheduledUntil.After(snap.GeneratedAt) {
			out = append(out, inc)
		}
	}
	return out
}

func icsTime(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// icsText escapes a TEXT value.
func icsText(s string) string {
	// A bare CR would end the line for parsers that break on it, letting a
	// name inject properties: every line break becomes \n.
	return strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\r", `\n`, "\n", `\n`).Replace(s)
}

// foldICS ends a content line with CRLF, folding it at 75 octets without
// splitting a UTF-8 sequence.
func foldICS(l string) string {
	var b strings.Builder
	n := 0
	for _, r := range l {
		size := len(string(r))
		if n+size > 75 {
			b.WriteString("\r\n ")
			n = 1
		}
		b.WriteRune(r)
		n += size
	}
	b.WriteString("\r\n")
	return b.String()
}
