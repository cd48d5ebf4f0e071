package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
)

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
