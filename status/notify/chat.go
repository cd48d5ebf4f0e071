package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/outpost-status/outpost/status"
)

// postJSON sends v and returns the response body (bounded) after
// classifying the status code.
func postJSON(ctx context.Context, hc *http.Client, url string, v any, what string) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, &PermanentError{Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, &PermanentError{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Outpost")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return out, httpError(resp, what)
}

// colour is an event's colour: impact for incidents, green when resolved.
func colour(ev status.Event) int {
	switch {
	case ev.Type == status.IncidentResolved || ev.Type == status.MaintenanceCompleted || ev.Type == status.MonitorConnectivityFixed:
		return 0x2e7d32
	case ev.Incident != nil:
		switch ev.Incident.Impact {
		case status.ImpactCritical:
			return 0xcf222e
		case status.ImpactMajor:
			return 0xbc4c00
		case status.ImpactMinor:
			return 0x9a6700
		case status.ImpactMaintenance:
			return 0x0969da
		}
	case ev.Component != nil:
		if ev.Component.NewStatus == status.Operational {
			return 0x2e7d32
		}
		return 0xbc4c00
	}
	return 0x6e7781
}

// details lists failing checks for operators.
func details(m Message) string {
	if !m.Operators || m.Event.Private == nil {
		return ""
	}
	var b strings.Builder
	for _, c := range m.Event.Private.Checks {
		fmt.Fprintf(&b, "• %s: %s %s", c.Name, c.Outcome, c.Reason)
		if c.Message != "" {
			fmt.Fprintf(&b, " (%s)", c.Message)
		}
		b.WriteString("\n")
	}
	return strings.TrimSpace(b.String())
}

// Slack posts to an incoming webhook, with Block Kit formatting. Incoming
// webhooks have no idempotency key: deliveries are at most once.
type Slack struct {
	url string
	hc  *http.Client
}

var _ Notifier = (*Slack)(nil)

// NewSlack posts to an incoming-webhook URL.
func NewSlack(url string, hc *http.Client) *Slack { return &Slack{url: url, hc: hc} }

// Idempotent: no; an ambiguous send is not repeated.
func (s *Slack) Idempotent() bool { return false }

// Send posts one message.
func (s *Slack) Send(ctx context.Context, m Message) (string, error) {
	blocks := []map[string]any{
		{"type": "section", "text": map[string]string{"type": "mrkdwn", "text": fmt.Sprintf("*<%s|%s>*\n%s", m.URL, slackEscape(m.Title), slackEscape(m.Text))}},
	}
	if d := details(m); d != "" {
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]string{"type": "mrkdwn", "text": "```" + d + "```"}})
	}
	blocks = append(blocks, map[string]any{"type": "context", "elements": []map[string]string{{"type": "mrkdwn", "text": string(m.Event.Type)}}})
	payload := map[string]any{"text": m.Title + ": " + m.Text,
		"attachments": []map[string]any{{"color": fmt.Sprintf("#%06x", colour(m.Event)), "blocks": blocks}}}
	_, err := postJSON(ctx, s.hc, s.url, payload, "slack")
	return "", err
}

func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Discord posts an embed to a webhook (with ?wait=true, so the message id
// comes back). Like Slack, at most once.
type Discord struct {
	url string
	hc  *http.Client
}

var _ Notifier = (*Discord)(nil)

// NewDiscord posts to a webhook URL.
func NewDiscord(url string, hc *http.Client) *Discord { return &Discord{url: url, hc: hc} }

// Idempotent: no.
func (d *Discord) Idempotent() bool { return false }

// Send posts one embed.
func (d *Discord) Send(ctx context.Context, m Message) (string, error) {
	embed := map[string]any{"title": truncate(m.Title, 256), "url": m.URL, "description": truncate(m.Text, 4000), "color": colour(m.Event),
		"timestamp": m.Event.At.UTC().Format("2006-01-02T15:04:05Z")}
	if det := details(m); det != "" {
		embed["fields"] = []map[string]any{{"name": "Checks", "value": truncate(det, 1000)}}
	}
	u := d.url
	if strings.Contains(u, "?") {
		u += "&wait=true"
	} else {
		u += "?wait=true"
	}
	body, err := postJSON(ctx, d.hc, u, map[string]any{"embeds": []any{embed}}, "discord")
	if err != nil {
		return "", err
	}
	var msg struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &msg)
	return msg.ID, nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
