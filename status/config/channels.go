package config

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/outpost-status/outpost/status"
)

// Channel kinds and their default audience.
var channelKinds = map[string]string{"mastodon": "public", "x": "public", "bluesky": "public",
	"slack": "operators", "discord": "operators", "pagerduty": "operators"}

var eventTypes = []status.EventType{status.IncidentCreated, status.IncidentUpdated, status.IncidentResolved,
	status.ComponentStatusChanged, status.MaintenanceScheduled, status.MaintenanceStarted, status.MaintenanceCompleted, status.MaintenanceCancelled,
	status.MonitorDelayed, status.MonitorConnectivityLost, status.MonitorConnectivityFixed, status.MonitorPeerDown,
	status.MonitorPeerUp, status.CheckCertificateExpiring, status.CheckWarning, status.CheckWarningCleared,
	status.DeliveryFailed}

// ChannelKinds lists the channel kinds, sorted (status/notify builds them).
func ChannelKinds() []string { return slices.Sorted(maps.Keys(channelKinds)) }

func knownEvent(s string) bool {
	for _, e := range eventTypes {
		if string(e) == s {
			return true
		}
	}
	return false
}

func (d *decoder) validateChannels(c *Config, comps map[string]bool, bad badFunc) {
	names := map[string]bool{}
	for i := range c.Channels {
		ch := &c.Channels[i]
		p := fmt.Sprintf("channels[%d]", i)
		uniqueName(names, ch.Name, p+".name", "channel name", bad)
		if strings.HasPrefix(ch.Name, "@") {
			bad(p+".name", "must not start with @ (reserved for webhook subscriptions)")
		}
		def, ok := channelKinds[ch.Kind]
		if !ok {
			bad(p+".kind", "unknown kind %q (use mastodon, x, bluesky, slack, discord or pagerduty)", ch.Kind)
			continue
		}
		if ch.Audience == "" {
			ch.Audience = def
		} else if ch.Audience != "public" && ch.Audience != "operators" {
			bad(p+".audience", "must be public or operators, got %q", ch.Audience)
		}
		d.channelFields(ch, p, bad)
		for j, e := range ch.Events {
			if !knownEvent(e) {
				bad(fmt.Sprintf("%s.events[%d]", p, j), "unknown event %q", e)
			}
			if ch.Audience == "public" && status.EventType(e).OperatorsOnly() {
				bad(fmt.Sprintf("%s.events[%d]", p, j), "%s is for operators only; this channel is public", e)
			}
		}
		for j, id := range ch.Components {
			if !comps[id] {
				bad(fmt.Sprintf("%s.components[%d]", p, j), "unknown component %q", id)
			}
		}
		for k, src := range ch.Templates {
			if !knownEvent(k) {
				bad(p+".templates."+k, "unknown event %q", k)
			} else if _, err := template.New(k).Parse(src); err != nil {
				bad(p+".templates."+k, "invalid template: %v", err)
			}
		}
		d.channelLimits(ch, p, bad)
	}
	tokens := map[string]bool{}
	for i, t := range c.Admin.Tokens {
		p := fmt.Sprintf("admin.tokens[%d]", i)
		uniqueName(tokens, t.Name, p+".name", "token name", bad)
		if len(t.Token) < 16 {
			bad(p+".token", "must be at least 16 characters (set it from the environment: ${OUTPOST_ADMIN_TOKEN})")
		}
	}
	switch c.Publish.Mode {
	case "", "auto":
		c.Publish.Mode = "auto"
	case "delay":
		if c.Publish.Delay == 0 {
			c.Publish.Delay = 5 * time.Minute
		}
	case "manual":
	default:
		bad("publish.mode", "must be auto, delay or manual, got %q", c.Publish.Mode)
	}
}

func (d *decoder) channelFields(ch *Channel, p string, bad badFunc) {
	need := func(field, v string) {
		if v == "" {
			bad(p+"."+field, "is required for kind %s", ch.Kind)
		}
	}
	absURL := func(field, v string) {
		if u, err := url.Parse(v); v != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
			bad(p+"."+field, "must be an absolute http(s) URL")
		}
	}
	switch ch.Kind {
	case "mastodon":
		need("server", ch.Server)
		need("token", ch.Token)
		absURL("server", ch.Server)
		switch ch.Visibility {
		case "":
			ch.Visibility = "public"
		case "public", "unlisted", "private":
		default:
			bad(p+".visibility", "must be public, unlisted or private, got %q", ch.Visibility)
		}
	case "slack", "discord":
		need("url", ch.URL)
		absURL("url", ch.URL)
	case "pagerduty":
		need("routing_key", ch.RoutingKey)
		absURL("url", ch.URL)
	case "x":
		need("consumer_key", ch.ConsumerKey)
		need("consumer_secret", ch.ConsumerSecret)
		need("token", ch.Token)
		need("access_secret", ch.AccessSecret)
		absURL("api_base", ch.APIBase)
		if ch.API == "" {
			ch.API = "2"
		} else if ch.API != "2" && ch.API != "1.1" {
			bad(p+".api", "must be \"2\" or \"1.1\", got %q", ch.API)
		}
	case "bluesky":
		need("handle", ch.Handle)
		need("app_password", ch.AppPassword)
		absURL("server", ch.Server)
	}
}

func (d *decoder) channelLimits(ch *Channel, p string, bad badFunc) {
	if ch.RateLimit == "" {
		ch.RateLimit = "30/m"
	}
	n, per, ok := strings.Cut(ch.RateLimit, "/")
	count, err := strconv.ParseFloat(n, 64)
	unit := map[string]float64{"s": 1, "m": 60, "h": 3600}[per]
	if !ok || err != nil || count <= 0 || unit == 0 {
		bad(p+".rate_limit", "must look like 30/m (per s, m or h), got %q", ch.RateLimit)
	} else {
		ch.Rate = count / unit
	}
	if ch.Burst == 0 {
		ch.Burst = 5
	}
	if ch.MaxAge == 0 {
		ch.MaxAge = 24 * time.Hour
	}
	if ch.Timeout == 0 {
		ch.Timeout = 10 * time.Second
	}
}
