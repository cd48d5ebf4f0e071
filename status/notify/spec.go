package notify

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Spec is a channel's kind and the fields its kind reads. status/config
// embeds it in a channel's config, as it embeds probes.Spec in a check's,
// and asks Check about it: the kinds are listed once, in the registry.
type Spec struct {
	Kind string `yaml:"kind"` // see Kinds
	// URL is the webhook (slack, discord) or the API base (pagerduty).
	URL        string `yaml:"url"`
	Server     string `yaml:"server"`      // mastodon; bluesky: the PDS
	Token      string `yaml:"token"`       // mastodon; x: the access token
	Visibility string `yaml:"visibility"`  // mastodon: public | unlisted | private
	RoutingKey string `yaml:"routing_key"` // pagerduty
	// x: OAuth 1.0a user context; api "2" (default) or "1.1".
	API            string `yaml:"api"`
	APIBase        string `yaml:"api_base"`
	ConsumerKey    string `yaml:"consumer_key"`
	ConsumerSecret string `yaml:"consumer_secret"`
	AccessSecret   string `yaml:"access_secret"`
	// bluesky: the account's handle and an app password.
	Handle      string `yaml:"handle"`
	AppPassword string `yaml:"app_password"`
}

// Setup is one configured channel as Build needs it: its Spec, and how
// it is routed, limited and worded.
type Setup struct {
	Spec
	Name               string
	Operators          bool
	Events, Components []string
	Templates          map[string]string // event type → text/template
	Rate               float64           // events per second
	Burst              int
	MaxAge, Timeout    time.Duration
}

// FieldError is a problem with one field of a Spec.
type FieldError struct {
	Field, Message string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// Check validates s's fields for its kind and fills the kind's defaults,
// returning every problem. ok is false for a kind not in the registry;
// audience is the kind's default audience.
func Check(s *Spec) (audience string, problems []FieldError, ok bool) {
	k, ok := kinds()[s.Kind]
	if !ok {
		return "", nil, false
	}
	r := &fieldRules{kind: s.Kind}
	if k.check != nil {
		k.check(s, r)
	}
	return k.audience, r.problems, true
}

// fieldRules are the checks a kind's fields share; they collect problems.
type fieldRules struct {
	kind     string
	problems []FieldError
}

func (r *fieldRules) bad(field, format string, args ...any) {
	r.problems = append(r.problems, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (r *fieldRules) need(field, v string) {
	if v == "" {
		r.bad(field, "is required for kind %s", r.kind)
	}
}

func (r *fieldRules) absURL(field, v string) {
	if u, err := url.Parse(v); v != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		r.bad(field, "must be an absolute http(s) URL")
	}
}

// oneOf fills *v with the first of allowed when empty, and refuses
// anything else not allowed.
func (r *fieldRules) oneOf(field string, v *string, allowed ...string) {
	if *v == "" {
		*v = allowed[0]
		return
	}
	for _, a := range allowed {
		if *v == a {
			return
		}
	}
	r.bad(field, "must be %s, got %q", orList(allowed), *v)
}

// orList is "a, b or c".
func orList(xs []string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}
