package notify_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/notify"
)

// The channel registry and the config's validation know the same kinds:
// config asks the registry, so each registry kind is accepted as a kind
// (its missing fields are named instead) and anything else is unknown.
func TestKindsMatchTheConfig(t *testing.T) {
	for _, kind := range append(notify.Kinds(), "smoke-signal") {
		path := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(path, []byte("site: {title: T}\ncomponents: [{id: api, name: API}]\nchannels:\n  - {name: c, kind: "+kind+"}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := config.Load(path, config.LoadOptions{})
		unknown := err != nil && strings.Contains(err.Error(), "unknown kind")
		if unknown != (kind == "smoke-signal") {
			t.Errorf("kind %s: %v", kind, err)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		spec     notify.Spec
		audience string
		problems []string // fields, in order
		after    func(notify.Spec) bool
	}{
		{name: "mastodon: visibility defaults to public", spec: notify.Spec{Kind: "mastodon", Server: "https://m.example", Token: "t"},
			audience: "public", after: func(s notify.Spec) bool { return s.Visibility == "public" }},
		{name: "mastodon: a bad visibility and a relative server", spec: notify.Spec{Kind: "mastodon", Server: "m.example", Token: "t", Visibility: "everyone"},
			audience: "public", problems: []string{"server", "visibility"}},
		{name: "x: api defaults to 2, every credential needed", spec: notify.Spec{Kind: "x"},
			audience: "public", problems: []string{"consumer_key", "consumer_secret", "token", "access_secret"},
			after: func(s notify.Spec) bool { return s.API == "2" }},
		{name: "slack: operators, needs an absolute url", spec: notify.Spec{Kind: "slack", URL: "/hook"},
			audience: "operators", problems: []string{"url"}},
		{name: "pagerduty: routing key", spec: notify.Spec{Kind: "pagerduty"}, audience: "operators", problems: []string{"routing_key"}},
		{name: "bluesky: handle and app password", spec: notify.Spec{Kind: "bluesky"}, audience: "public", problems: []string{"handle", "app_password"}},
		{name: "discord", spec: notify.Spec{Kind: "discord", URL: "https://discord.example/api/webhooks/1"}, audience: "operators"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.spec
			audience, problems, ok := notify.Check(&s)
			var fields []string
			for _, p := range problems {
				fields = append(fields, p.Field)
			}
			if !ok || audience != tc.audience || strings.Join(fields, ",") != strings.Join(tc.problems, ",") {
				t.Errorf("ok %v, audience %q, problems %v; want %q, %v", ok, audience, problems, tc.audience, tc.problems)
			}
			if tc.after != nil && !tc.after(s) {
				t.Errorf("defaults not filled: %+v", s)
			}
		})
	}
	_, problems, _ := notify.Check(&notify.Spec{Kind: "mastodon", Server: "https://m.example", Token: "t", Visibility: "everyone"})
	if len(problems) != 1 || problems[0].Message != `must be public, unlisted or private, got "everyone"` {
		t.Errorf("visibility problems: %v", problems)
	}
	if _, _, ok := notify.Check(&notify.Spec{Kind: "smoke-signal"}); ok {
		t.Error("an unknown kind was accepted")
	}
}
