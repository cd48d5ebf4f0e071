package notify

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

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
