package email

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"slices"
	"strings"
	texttemplate "text/template"

	"github.com/outpost-status/outpost/templates"
)

// The two mails, each a text part and an HTML part.
const (
	kindIncident = "incident"
	kindConfirm  = "confirm"
)

// Templates renders the mails' parts: the embedded defaults
// (templates/email), each replaceable by an operator's override of the
// same name, as a channel's texts are.
type Templates struct {
	text map[string]*texttemplate.Template
	html map[string]*htmltemplate.Template
}

// NewTemplates parses the defaults and overrides ("incident.txt",
// "incident.html", "confirm.txt", "confirm.html"); an unknown name or a
// template that does not parse is an error naming it.
func NewTemplates(overrides map[string]string) (*Templates, error) {
	src := templates.Email()
	for name, s := range overrides {
		if _, ok := src[name]; !ok {
			return nil, fmt.Errorf("email template %q: unknown (known: %s)", name, strings.Join(sortedKeys(src), ", "))
		}
		src[name] = s
	}
	t := &Templates{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	for _, kind := range []string{kindIncident, kindConfirm} {
		txt, err := texttemplate.New(kind + ".txt").Option("missingkey=error").Parse(src[kind+".txt"])
		if err != nil {
			return nil, fmt.Errorf("email template %s.txt: %w", kind, err)
		}
		h, err := htmltemplate.New(kind + ".html").Option("missingkey=error").Parse(src[kind+".html"])
		if err != nil {
			return nil, fmt.Errorf("email template %s.html: %w", kind, err)
		}
		t.text[kind], t.html[kind] = txt, h
	}
	return t, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// render gives both parts of a mail; text lines end in LF here (the
// message writer makes them CRLF).
func (t *Templates) render(kind string, view any) (text, html string, err error) {
	var tb, hb bytes.Buffer
	if err := t.text[kind].Execute(&tb, view); err != nil {
		return "", "", fmt.Errorf("render %s.txt: %w", kind, err)
	}
	if err := t.html[kind].Execute(&hb, view); err != nil {
		return "", "", fmt.Errorf("render %s.html: %w", kind, err)
	}
	return tb.String(), hb.String(), nil
}
