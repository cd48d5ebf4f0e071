package notify

import (
	"fmt"
	"maps"
	"net/http"
	"slices"

	"golang.org/x/time/rate"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
)

// The channel registry: each kind's constructor and the rules of its
// posts, one file per kind beside it. status/config validates the same
// kinds' fields (config.ChannelKinds; a test keeps the two in step).

// kind is one channel kind.
type kind struct {
	build func(c config.Channel, hc *http.Client, s Sessions) Notifier
	// timed: identical texts are refused, so every text carries the time.
	timed bool
	limit int     // post length (0: none)
	count Counter // how the network counts it
	// events are the kind's own defaults when none are configured.
	events []status.EventType
}

func kinds() map[string]kind {
	return map[string]kind{
		"mastodon": {build: func(c config.Channel, _ *http.Client, _ Sessions) Notifier {
			return NewMastodon(c.Server, c.Token, c.Visibility, nil)
		}, limit: MastodonLimit, count: MastodonLength},
		"slack":   {build: func(c config.Channel, hc *http.Client, _ Sessions) Notifier { return NewSlack(c.URL, hc) }},
		"discord": {build: func(c config.Channel, hc *http.Client, _ Sessions) Notifier { return NewDiscord(c.URL, hc) }},
		"x": {build: func(c config.Channel, _ *http.Client, _ Sessions) Notifier {
			return NewX(c.API, c.APIBase, XCredentials{ConsumerKey: c.ConsumerKey, ConsumerSecret: c.ConsumerSecret,
				AccessToken: c.Token, AccessSecret: c.AccessSecret}, nil)
		}, timed: true, limit: XLimit, count: XLength},
		"bluesky": {build: func(c config.Channel, hc *http.Client, s Sessions) Notifier {
			return NewBluesky(c.Server, c.Handle, c.AppPassword, hc, s)
		}, timed: true, limit: BlueskyLimit, count: BlueskyLength},
		"pagerduty": {build: func(c config.Channel, hc *http.Client, _ Sessions) Notifier {
			return NewPagerDuty(c.URL, c.RoutingKey, hc)
		}, events: []status.EventType{status.IncidentCreated, status.IncidentUpdated, status.IncidentResolved}}, // pages for incidents, nothing else
	}
}

// Kinds lists the channel kinds, sorted.
func Kinds() []string { return slices.Sorted(maps.Keys(kinds())) }

// Build turns configured channels into Channels; sessions keeps what a
// kind must not lose across restarts (a Bluesky session).
func Build(chs []config.Channel, sessions Sessions) ([]*Channel, error) {
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
		ch := &Channel{Name: c.Name, Operators: c.Operators(), Texts: texts, Rate: rate.Limit(c.Rate), Burst: c.Burst,
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
