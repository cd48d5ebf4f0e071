package notify

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"unicode/utf8"

	"github.com/outpost-status/outpost/status"
)

// TemplateData is what message templates see.
type TemplateData struct {
	Site   string
	Event  status.Event
	Type   string
	Title  string // the incident's name, or a headline for the event
	Status string // "investigating", "resolved", … (underscores as spaces)
	Body   string // the update's text
	URL    string
	// Time is the event's time ("Mar 10 14:02 UTC"), so texts differ per
	// update (X refuses duplicates).
	Time      string
	Component *status.ComponentEvent
	Private   *status.Private // operators' channels only
}

// defaultTemplates hold one text per audience; channels override per event
// type with `templates:` in the config.
var defaultTemplates = map[string]string{
	"public":    `{{.Title}} ({{.Status}}): {{.Body}}`,
	"operators": `[{{.Type}}] {{.Title}} ({{.Status}}): {{.Body}}{{with .Private}}{{range .Checks}} | {{.Name}}: {{.Outcome}} {{.Reason}}{{with .Message}} ({{.}}){{end}}{{end}}{{end}}`,
}

// timedTemplate is the public default for networks that refuse duplicate
// text (X) or should not look alike: the update's time makes every row's
// text unique and deterministic.
const timedTemplate = `{{.Title}} ({{.Status}}, {{.Time}}): {{.Body}}`

// TimedDefaults are template overrides for X and Bluesky channels.
func TimedDefaults(overrides map[string]string) map[string]string {
	out := map[string]string{}
	for _, t := range []status.EventType{status.IncidentCreated, status.IncidentUpdated, status.IncidentResolved,
		status.MaintenanceScheduled, status.MaintenanceStarted, status.MaintenanceCompleted, status.MaintenanceCancelled} {
		out[string(t)] = timedTemplate
	}
	for k, v := range overrides {
		out[k] = v
	}
	return out
}

// Texts renders messages for one channel.
type Texts struct {
	tpl map[string]*template.Template // by event type, and "public"/"operators" defaults
}

// NewTexts parses a channel's template overrides (by event type); invalid
// templates are reported with their event type.
func NewTexts(overrides map[string]string) (*Texts, error) {
	t := &Texts{tpl: map[string]*template.Template{}}
	for k, src := range defaultTemplates {
		t.tpl[k] = template.Must(template.New(k).Parse(src))
	}
	for k, src := range overrides {
		p, err := template.New(k).Option("missingkey=error").Parse(src)
		if err != nil {
			return nil, fmt.Errorf("template for %s: %w", k, err)
		}
		t.tpl[k] = p
	}
	return t, nil
}

// Data builds the template data of an event.
func Data(site, siteURL string, ev status.Event, operators bool) TemplateData {
	d := TemplateData{Site: site, Event: ev, Type: string(ev.Type), URL: siteURL + "/", Component: ev.Component,
		Time: ev.At.UTC().Format("Jan 2 15:04 MST")}
	if operators {
		d.Private = ev.Private
	}
	switch {
	case ev.Incident != nil:
		d.Title, d.Status, d.URL = ev.Incident.Name, spaced(string(ev.Incident.Status)), siteURL+"/incidents/"+ev.Incident.ID
		if ev.Update != nil {
			d.Status, d.Body = spaced(string(ev.Update.Status)), ev.Update.Body
		}
	case ev.Component != nil:
		d.Title, d.Status = ev.Component.Name, spaced(string(ev.Component.NewStatus))
		d.Body = fmt.Sprintf("%s is now %s (was %s).", ev.Component.Name, spaced(string(ev.Component.NewStatus)), spaced(string(ev.Component.OldStatus)))
		if ev.Component.OldStatus == "" { // it had no data before: no "was"
			d.Body = fmt.Sprintf("%s is now %s.", ev.Component.Name, spaced(string(ev.Component.NewStatus)))
		}
	default:
		d.Title, d.Status, d.Body = site+" monitor", spaced(string(ev.Type)), ev.Text
	}
	return d
}

func spaced(s string) string { return strings.ReplaceAll(s, "_", " ") }

// Render gives the text for an event: the override for its type, else the
// audience's default.
func (t *Texts) Render(d TemplateData, operators bool) (string, error) {
	p, ok := t.tpl[d.Type]
	if !ok {
		p = t.tpl["public"]
		if operators {
			p = t.tpl["operators"]
		}
	}
	var b bytes.Buffer
	if err := p.Execute(&b, d); err != nil {
		return "", fmt.Errorf("render %s: %w", d.Type, err)
	}
	return strings.TrimSpace(b.String()), nil
}

var urlRe = regexp.MustCompile(`https?://\S+`)

// Counter measures text the way a network does.
type Counter func(string) int

// MastodonLength counts characters with every URL as 23, as Mastodon does.
func MastodonLength(s string) int {
	n := utf8.RuneCountInString(urlRe.ReplaceAllString(s, ""))
	return n + 23*len(urlRe.FindAllString(s, -1))
}

// Fit joins text and the link, shortening the text (never the link, never
// in the middle of one) so the whole stays within limit by count.
func Fit(text, link string, limit int, count Counter) string {
	full := text + " " + link
	if count(full) <= limit {
		return full
	}
	words := strings.Fields(text)
	for len(words) > 1 {
		words = words[:len(words)-1]
		if urlRe.MatchString(words[len(words)-1]) {
			continue // never end on a link with an ellipsis glued to it
		}
		if cand := strings.Join(words, " ") + "… " + link; count(cand) <= limit {
			return cand
		}
	}
	return link
}
