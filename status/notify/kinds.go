package notify

import (
	"fmt"
	"maps"
	"net/http"
	"slices"

	"golang.org/x/time/rate"

	"github.com/outpost-status/outpost/status"
)

// The channel registry, the one list of channel kinds: each kind's
// default audience, field rules (status/config applies them through
// Check), constructor and the rules of its posts, one file per kind
// beside it.

// kind is one channel kind.
type kind struct {
	audience string // "public" or "operators", when the config says none
	// check validates the kind's fields and fills their defaults.
	check func(s *Spec, r *fieldRules)
	build func(c Setup, hc *http.Client, s Sessions) Notifier
	// timed: identical texts are refused, so every text carries the time.
	timed bool
	limit int     // post length (0: none)
	count Counter // how the network counts it
	// events are the kind's own defaults when none are configured.
	events []status.EventType
}

func kinds() map[string]kind {
	return map[string]kind{
		"mastodon": {audience: "public", check: func(s *Spec, r *fieldRules) {
			r.need("server", s.Server)
			r.need("token", s.Token)
			r.absURL("server", s.Server)
			r.oneOf("visibility", &s.Visibility, "public", "unlisted", "private")
		}, build: func(c Setup, _ *http.Client, _ Sessions) Notifier {
			return NewMastodon(c.Server, c.Token, c.Visibility, nil)
		}, limit: MastodonLimit, count: MastodonLength},
		"slack":   {audience: "operators", check: webhookURL, build: func(c Setup, hc *http.Client, _ Sessions) Notifier { return NewSlack(c.URL, hc) }},
		"discord": {audience: "operators", check: webhookURL, build: func(c Setup, hc *http.Client, _ Sessions) Notifier { return NewDiscord(c.URL, hc) }},
		"x": {audience: "public", check: func(s *Spec, r *fieldRules) {
			r.need("consumer_key", s.ConsumerKey)
			r.need("consumer_secret", s.ConsumerSecret)
			r.need("token", s.Token)
			r.need("access_secret", s.AccessSecret)
			r.absURL("api_base", s.APIBase)
			r.oneOf("api", &s.API, "2", "1.1")
		}, build: func(c Setup, _ *http.Client, _ Sessions) Notifier {
			return NewX(c.API, c.APIBase, XCredentials{ConsumerKey: c.ConsumerKey, ConsumerSecret: c.ConsumerSecret,
				AccessToken: c.Token, AccessSecret: c.AccessSecret}, nil)
		}, timed: true, limit: XLimit, count: XLength},
		"bluesky": {audience: "public", check: func(s *Spec, r *fieldRules) {
			r.need("handle", s.Handle)
			r.need("app_password", s.AppPassword)
			r.absURL("server", s.Server)
		}, build: func(c Setup, hc *http.Client, s Sessions) Notifier {
			return NewBluesky(c.Server, c.Handle, c.AppPassword, hc, s)
		}, timed: true, limit: BlueskyLimit, count: BlueskyLength},
		"pagerduty": {audience: "operators", check: func(s *Spec, r *fieldRules) {
			r.need("routing_key", s.RoutingKey)
			r.absURL("url", s.URL)
		}, build: func(c Setup, hc *http.Client, _ Sessions) Notifier {
			return NewPagerDuty(c.URL, c.RoutingKey, hc)
		}, events: []status.EventType{status.IncidentCreated, status.IncidentUpdated, status.IncidentResolved}}, // pages for incidents, nothing else
	}
}

// webhookURL is the rule of the kinds that post to one URL.
func webhookURL(s *Spec, r *fieldRules) {
	r.need("url", s.URL)
	r.absURL("url", s.URL)
}

// Kinds lists the channel kinds, sorted.
func Kinds() []string { return slices.Sorted(maps.Keys(kinds())) }

// Build turns configured channels into Channels; sessions keeps what a
// kind must not lose across restarts (a Bluesky session).
func Build(chs []Setup, sessions Sessions) ([]*Channel, error) {
	hc := &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment}, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse // a webhook that redirects is misconfigured, not followed
	}}
	reg := kinds()
	out := make([]*Channel, 0, len(chs))
	for _, c := range chs {
		k, ok := reg[c.Kind]
		if !ok {
			return nil, fmt.Errorf("channel %s: unknown kind %q", c.Name, c.Kind)
		}
		tpl := c.Templates
		if k.timed {
			tpl = TimedDefaults(c.Templates)
		}
		texts, err := NewTexts(tpl)
		if err != nil {
			return nil, fmt.Errorf("channel %s: %w", c.Name, err)
		}
		ch := &Channel{Name: c.Name, Operators: c.Operators, Texts: texts, Rate: rate.Limit(c.Rate), Burst: c.Burst,
			MaxAge: c.MaxAge, Timeout: c.Timeout, Notifier: k.build(c, hc, sessions), Limit: k.limit, Count: k.count}
		events := c.Events
		if len(events) == 0 {
			for _, e := range k.events {
				events = append(events, string(e))
			}
		}
		if len(events) > 0 {
			ch.Events = map[status.EventType]bool{}
			for _, e := range events {
				ch.Events[status.EventType(e)] = true
			}
		}
		if len(c.Components) > 0 {
			ch.Components = map[string]bool{}
			for _, id := range c.Components {
				ch.Components[id] = true
			}
		}
		out = append(out, ch)
	}
	return out, nil
}
