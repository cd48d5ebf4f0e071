package notify

import (
	"context"
	"fmt"
	"html"
	"regexp"
	"strings"
	"time"

	"github.com/mattn/go-mastodon"
)

var _ Finder = (*Mastodon)(nil)

// KeyWindow is how long Mastodon remembers an Idempotency-Key.
func (m *Mastodon) KeyWindow() time.Duration { return time.Hour }

// Find looks through the account's latest statuses for one an earlier
// attempt made for msg: posted since since (a minute of clock skew
// allowed), in reply to the same post, and starting with the same text.
// Mastodon rewrites links in a status's HTML, so only the text before the
// first link is compared.
func (m *Mastodon) Find(ctx context.Context, msg Message, since time.Time) (string, error) {
	me, err := m.client.GetAccountCurrentUser(ctx)
	if err != nil {
		return "", fmt.Errorf("mastodon: who am I: %w", err)
	}
	statuses, err := m.client.GetAccountStatuses(ctx, me.ID, &mastodon.Pagination{Limit: 40})
	if err != nil {
		return "", fmt.Errorf("mastodon: recent statuses: %w", err)
	}
	want := lead(msg.Text)
	for _, s := range statuses {
		if s.CreatedAt.Before(since.Add(-time.Minute)) || fmt.Sprint(orEmpty(s.InReplyToID)) != msg.ReplyTo {
			continue
		}
		if want != "" && strings.HasPrefix(plainText(s.Content), want) {
			return string(s.ID), nil
		}
	}
	return "", nil
}

func orEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}

var (
	tagRe   = regexp.MustCompile(`<[^>]*>`)
	spaceRe = regexp.MustCompile(`\s+`)
)

// plainText is a status's HTML as text, with white space folded.
func plainText(content string) string {
	return strings.TrimSpace(spaceRe.ReplaceAllString(html.UnescapeString(tagRe.ReplaceAllString(content, " ")), " "))
}

// lead is the text before the first link, with white space folded, as it
// reads in the status.
func lead(text string) string {
	if i := urlRe.FindStringIndex(text); i != nil {
		text = text[:i[0]]
	}
	return strings.TrimSpace(spaceRe.ReplaceAllString(text, " "))
}
