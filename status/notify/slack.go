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
		// Escaped inside the code block too: Slack reads <!channel> and
		// <url|text> there as well, and a ``` would close the block.
		d = strings.ReplaceAll(slackEscape(d), "```", "`\u200b``")
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]string{"type": "mrkdwn", "text": "```" + d + "```"}})
	}
	blocks = append(blocks, map[string]any{"type": "context", "elements": []map[string]string{{"type": "mrkdwn", "text": string(m.Event.Type)}}})
	// The top-level text is the notification's fallback, read as mrkdwn:
	// text from a probed system (a banner, an error) must arrive inert.
	payload := map[string]any{"text": slackEscape(m.Title + ": " + m.Text),
		"attachments": []map[string]any{{"color": fmt.Sprintf("#%06x", colour(m.Event)), "blocks": blocks}}}
	_, err := postJSON(ctx, s.hc, s.url, payload, "slack")
	return "", err
}

// slackEscape makes text inert in Slack's mrkdwn: no <!channel>, no
// <url|label> links, no &entities.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
