package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// banner is what a hostile or compromised target answers a TCP probe with:
// markup of every network.
const banner = "220 <!channel> <https://evil.example/login|re-enter your SSO password> @everyone @alice@evil.example [click](https://evil.example) *urgent* ```x```"

// Text from a probed system reaches operators' channels inert: no Slack
// broadcast or link, no Discord mention or masked link, no Mastodon or X
// mention, only data for PagerDuty.
func TestHostileBannerArrivesInert(t *testing.T) {
	ev := testEvent
	ev.Private = &status.Private{Checks: []status.CheckDetail{{Name: "smtp", Outcome: probes.Down, Reason: probes.ReasonBannerMismatch, Message: banner}}}
	inert := map[string]func(t *testing.T, raw string, body map[string]any){
		"slack": func(t *testing.T, raw string, _ map[string]any) {
			for _, bad := range []string{"<!channel>", "<https://evil"} {
				if strings.Contains(raw, bad) {
					t.Errorf("slack payload carries %q: %s", bad, raw)
				}
			}
		},
		"discord": func(t *testing.T, raw string, b map[string]any) {
			am, _ := b["allowed_mentions"].(map[string]any)
			if p, ok := am["parse"].([]any); !ok || len(p) != 0 {
				t.Errorf("discord allowed_mentions %v, want parse: []", b["allowed_mentions"])
			}
			if strings.Contains(raw, "[click](") || strings.Contains(raw, " @everyone") {
				t.Errorf("discord payload carries live markup: %s", raw)
			}
		},
		"mastodon": func(t *testing.T, _ string, b map[string]any) {
			if s := b["status"].(string); strings.Contains(s, "@alice") || strings.Contains(s, "@everyone") {
				t.Errorf("mastodon status mentions: %q", s)
			}
		},
		"x": func(t *testing.T, _ string, b map[string]any) {
			if s := b["text"].(string); strings.Contains(s, "@alice") || strings.Contains(s, "@everyone") {
				t.Errorf("x text mentions: %q", s)
			}
		},
		"bluesky": func(t *testing.T, raw string, b map[string]any) {
			if strings.Contains(raw, `"uri":"https://evil`) {
				t.Errorf("bluesky links the banner: %s", raw)
			}
		},
		"pagerduty": func(t *testing.T, raw string, b map[string]any) {
			if !strings.Contains(raw, `"message":`) { // plain data in custom_details
				t.Errorf("pagerduty lost the details: %s", raw)
			}
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			check, ok := inert[c.name]
			if !ok {
				t.Fatalf("no inertness check for channel %s", c.name)
			}
			f := &fakeAPI{response: c.response}
			srv := httptest.NewServer(f)
			defer srv.Close()
			ch := channel(c.name, c.make(srv.URL), true)
			ch.Limit, ch.Count = limits(c.name)
			d := New(Options{Store: openStore(t), Channels: []*Channel{ch}, SiteID: "acme", Site: "Acme",
				SiteURL: "https://status.acme.test", Logger: slog.New(slog.DiscardHandler)})
			msg, err := (&worker{d: d, ch: ch}).message(store.OutboxRow{Seq: 12, Event: ev})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ch.Notifier.Send(context.Background(), msg); err != nil {
				t.Fatal(err)
			}
			_, body := f.last()
			var raw strings.Builder // as the network reads it: no \u003c escapes
			enc := json.NewEncoder(&raw)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(body)
			check(t, raw.String(), body)
		})
	}
}

func limits(name string) (int, Counter) {
	switch name {
	case "mastodon":
		return MastodonLimit, MastodonLength
	case "x":
		return XLimit, XLength
	case "bluesky":
		return BlueskyLimit, BlueskyLength
	}
	return 0, nil
}
