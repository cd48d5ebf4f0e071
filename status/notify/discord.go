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
	embed := map[string]any{"title": truncate(m.Title, 256), "url": m.URL, "description": truncate(discordEscape(m.Text), 4000), "color": colour(m.Event),
		"timestamp": m.Event.At.UTC().Format("2006-01-02T15:04:05Z")}
	if det := details(m); det != "" {
		embed["fields"] = []map[string]any{{"name": "Checks", "value": truncate(discordEscape(det), 1000)}}
	}
	u := d.url
	if strings.Contains(u, "?") {
		u += "&wait=true"
	} else {
		u += "?wait=true"
	}
	// No mention of any kind pings anyone (@everyone, @here, roles, users
	// in text from a probed system).
	payload := map[string]any{"embeds": []any{embed}, "allowed_mentions": map[string]any{"parse": []string{}}}
	body, err := postJSON(ctx, d.hc, u, payload, "discord")
	if err != nil {
		return "", err
	}
	var msg struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &msg)
	return msg.ID, nil
}

// discordEscape makes text inert in Discord's markdown: no masked links,
// emphasis, code, spoilers, quotes or headings from text a probed system
// sent. URLs stay clickable (Discord links them without markup).
func discordEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\*_~`|>[]()#<@", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
