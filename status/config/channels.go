package config

import (
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/notify"
)

var eventTypes = []status.EventType{status.IncidentCreated, status.IncidentUpdated, status.IncidentResolved,
	status.ComponentStatusChanged, status.MaintenanceScheduled, status.MaintenanceStarted, status.MaintenanceCompleted, status.MaintenanceCancelled,
	status.MonitorDelayed, status.MonitorConnectivityLost, status.MonitorConnectivityFixed, status.MonitorPeerDown,
	status.MonitorPeerUp, status.CheckCertificateExpiring, status.CheckWarning, status.CheckWarningCleared,
	status.DeliveryFailed, status.CheckRegional, status.CheckRegionalCleared, status.CheckUnconfirmed}

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
		def, problems, ok := notify.Check(&ch.Spec)
		for _, f := range problems {
			bad(p+"."+f.Field, "%s", f.Message)
		}
		if !ok {
			bad(p+".kind", "unknown kind %q (one of %s)", ch.Kind, strings.Join(notify.Kinds(), ", "))
			continue
		}
		if ch.Audience == "" {
			ch.Audience = def
		} else if ch.Audience != "public" && ch.Audience != "operators" {
			bad(p+".audience", "must be public or operators, got %q", ch.Audience)
		}
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
		validateProfile(ch, p, bad)
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
