package notify

import (
	"strings"
	"testing"
)

// FuzzFit: for every network, fitted text is within the network's limit as
// the network counts it, keeps the link whole at its end, and is valid
// UTF-8 whatever the input (emoji, combining marks, broken bytes).
func FuzzFit(f *testing.F) {
	f.Add("API is unavailable (investigating): We are investigating connection failures.", "https://status.acme.test/incidents/inc-3")
	f.Add(strings.Repeat("é̂👩‍👩‍👧", 200), "https://x.test/i")
	f.Add(strings.Repeat("a ", 400), "")
	f.Add("\xff\xfe broken", "https://x.test/")
	networks := []struct {
		name  string
		limit int
		count Counter
	}{{"mastodon", MastodonLimit, MastodonLength}, {"x", XLimit, XLength}, {"bluesky", BlueskyLimit, BlueskyLength}}
	f.Fuzz(func(t *testing.T, text, link string) {
		if strings.ContainsAny(link, " \t\n") || len(link) > 100 {
			return // links are the page's URLs: no spaces, short
		}
		for _, n := range networks {
			got := Fit(text, link, n.limit, n.count)
			if n.count(got) > n.limit {
				t.Fatalf("%s: %d over the limit %d: %q", n.name, n.count(got), n.limit, got)
			}
			if link != "" && n.count(link)+2 <= n.limit && !strings.HasSuffix(got, link) {
				t.Fatalf("%s: the link is not whole at the end: %q", n.name, got)
			}
		}
	})
}
