// Package templates embeds the page templates and parses them once at
// start-up, so a broken template fails the process before it serves.
package templates

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"strings"
)

//go:embed *.html
var files embed.FS

// Pages are the page templates; each is rendered with the base layout.
// "button" is a page with one form button that posts to the page's own
// URL, for links a mail scanner may follow (a GET must change nothing);
// "manage" is an email subscriber's page, whose forms do the same.
func Pages() []string {
	return []string{"index", "incident", "history", "error", "button", "subscribe", "manage"}
}

// Parse returns one template set per page, each executing "base".
func Parse(funcs template.FuncMap) (map[string]*template.Template, error) {
	out := make(map[string]*template.Template, len(Pages()))
	for _, p := range Pages() {
		t, err := template.New("base.html").Funcs(funcs).ParseFS(files, "base.html", "partials.html", p+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", p, err)
		}
		out[p] = t
	}
	return out, nil
}

//go:embed email/*.tmpl
var emailFiles embed.FS

// Email returns the default mail templates by name ("incident.txt",
// "incident.html", "confirm.txt", "confirm.html"). status/email parses
// them with an operator's overrides, which replace them one name at a
// time, as a channel's `templates:` replace its default texts.
func Email() map[string]string {
	out := map[string]string{}
	names, _ := fs.Glob(emailFiles, "email/*.tmpl") // the pattern is a constant: no error
	for _, n := range names {
		b, _ := emailFiles.ReadFile(n) // embedded: cannot fail
		out[strings.TrimSuffix(strings.TrimPrefix(n, "email/"), ".tmpl")] = string(b)
	}
	return out
}
