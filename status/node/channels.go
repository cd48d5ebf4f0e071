package node

import (
	"fmt"
	"net/http"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/notify"
	"golang.org/x/time/rate"
)

// BuildChannels turns the configured channels into notify.Channels.
func BuildChannels(cfg *config.Config, sessions notify.Sessions) ([]*notify.Channel, error) {
	hc := &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment}, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse // a webhook that redirects is misconfigured, not followed
	}}
	var out []*notify.Channel
	for _, c := range cfg.Channels {
		tpl := c.Templates
		if c.Kind == "x" || c.Kind == "bluesky" {
			tpl = notify.TimedDefaults(c.Templates)
		}
		texts, err := notify.NewTexts(tpl)
		if err != nil {
			return nil, fmt.Errorf("channel %s: %w", c.Name, err)
		}
		ch := &notify.Channel{Name: c.Name, Operators: c.Operators(), Texts: texts, Rate: rate.Limit(c.Rate), Burst: c.Burst,
			MaxAge: c.MaxAge, Timeout: c.Timeout}
		if len(c.Events) > 0 {
			ch.Events = map[status.EventType]bool{}
			for _, e := range c.Events {
				ch.Events[status.EventType(e)] = true
			}
		}
		if len(c.Components) > 0 {
			ch.Components = map[string]bool{}
			for _, id := range c.Components {
				ch.Components[id] = true
			}
		}
		switch c.Kind {
		case "mastodon":
			ch.Notifier = notify.NewMastodon(c.Server, c.Token, c.Visibility, nil)
			ch.Limit, ch.Count = notify.MastodonLimit, notify.MastodonLength
		case "slack":
			ch.Notifier = notify.NewSlack(c.URL, hc)
		case "discord":
			ch.Notifier = notify.NewDiscord(c.URL, hc)
		case "x":
			ch.Notifier = notify.NewX(c.API, c.APIBase, notify.XCredentials{ConsumerKey: c.ConsumerKey, ConsumerSecret: c.ConsumerSecret,
				AccessToken: c.Token, AccessSecret: c.AccessSecret}, nil)
			ch.Limit, ch.Count = notify.XLimit, notify.XLength
		case "bluesky":
			ch.Notifier = notify.NewBluesky(c.Server, c.Handle, c.AppPassword, hc, sessions)
			ch.Limit, ch.Count = notify.BlueskyLimit, notify.BlueskyLength
		case "pagerduty":
			ch.Notifier = notify.NewPagerDuty(c.URL, c.RoutingKey, hc)
			if ch.Events == nil { // PagerDuty pages for incidents, nothing else
				ch.Events = map[status.EventType]bool{status.IncidentCreated: true, status.IncidentUpdated: true, status.IncidentResolved: true}
			}
		}
		out = append(out, ch)
	}
	return out, nil
}
