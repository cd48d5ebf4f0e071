package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/outpost-status/outpost/status"
)

// DefaultPagerDutyURL is the Events API v2 host.
const DefaultPagerDutyURL = "https://events.pagerduty.com"

// PagerDuty triggers on incident.created, re-triggers on updates and
// resolves on incident.resolved, with dedup_key = the incident id: PagerDuty
// de-duplicates re-sends itself.
type PagerDuty struct {
	url, key string
	hc       *http.Client
}

var _ Notifier = (*PagerDuty)(nil)

// NewPagerDuty sends to base (DefaultPagerDutyURL) with a routing key.
func NewPagerDuty(base, routingKey string, hc *http.Client) *PagerDuty {
	if base == "" {
		base = DefaultPagerDutyURL
	}
	return &PagerDuty{url: strings.TrimRight(base, "/") + "/v2/enqueue", key: routingKey, hc: hc}
}

// Idempotent: yes, by dedup_key.
func (p *PagerDuty) Idempotent() bool { return true }

// Send enqueues one event; events without an incident are skipped.
func (p *PagerDuty) Send(ctx context.Context, m Message) (string, error) {
	inc := m.Event.Incident
	if inc == nil && !m.Test {
		return "", nil
	}
	action, dedup := "trigger", m.Key
	if inc != nil {
		dedup = inc.ID
		if m.Event.Type == status.IncidentResolved || inc.Status.Closed() {
			action = "resolve"
		}
	}
	severity := "error"
	if inc != nil && inc.Impact == status.ImpactCritical {
		severity = "critical"
	} else if inc != nil && inc.Impact == status.ImpactMinor {
		severity = "warning"
	}
	ev := map[string]any{"routing_key": p.key, "event_action": action, "dedup_key": dedup,
		"links": []map[string]string{{"href": m.URL, "text": "Incident page"}}}
	if action == "trigger" {
		payload := map[string]any{"summary": truncate(m.Title+": "+m.Text, 1024), "source": "outpost", "severity": severity}
		if m.Event.Private != nil {
			payload["custom_details"] = map[string]any{"checks": m.Event.Private.Checks}
		}
		ev["payload"] = payload
	}
	body, err := postJSON(ctx, p.hc, p.url, ev, "pagerduty")
	if err != nil {
		return "", err
	}
	var r struct {
		DedupKey string `json:"dedup_key"`
	}
	_ = json.Unmarshal(body, &r)
	return r.DedupKey, nil
}
