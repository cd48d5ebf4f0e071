package main

import (
	"bytes"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A crash while every channel's send is in flight loses nothing and posts
// nothing twice: after SIGKILL and a restart, each announcement reaches
// each channel exactly once.
func TestKillMidSendPostsExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	nets := newFakeNetworks(t)
	nets.hold = true
	s := startShop(t, "Kill Test", "", nets.channelsYAML())
	bin, cfg, listen, tg, p := s.bin, s.cfg, s.listen, s.tg, s.p
	waitFor(t, 10*time.Second, "the shop up", func() bool { return strings.Contains(mustFetch(p.base, "/api/v1/status"), `"operational"`) }, p)

	tg.stop() // incident.created goes to all four channels; replies are held
	nets.waitArrivals(t, 15*time.Second, "mastodon", "slack", "discord", "pagerduty", "x", "bluesky")
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	nets.unhold()

	p2 := startOutpost(t, bin, cfg, listen)
	waitFor(t, 15*time.Second, "the outbox to drain", func() bool {
		h := mustFetch(p2.ops, "/api/v1/health")
		return strings.Contains(h, `"outbox":{}`)
	}, p2)
	posts, got := nets.snapshot()
	// Exactly once per announcement and channel. Public Mastodon and
	// PagerDuty take the incident; operators' Slack and Discord also take
	// the component change: two announcements, each once.
	want := map[string]int{"mastodon": 1, "pagerduty": 1, "x": 1, "bluesky": 1, "slack": 2, "discord": 2}
	for ch, n := range want {
		if posts[ch] != n {
			t.Errorf("%s: %d posts, want %d (requests: %q)", ch, posts[ch], n, got[ch])
		}
		seen := map[string]int{}
		for _, g := range got[ch] {
			seen[g]++
		}
		if (ch == "slack" || ch == "discord") && len(seen) != len(got[ch]) {
			t.Errorf("%s: an announcement was re-sent on an at-most-once channel: %q", ch, got[ch])
		}
		found := false
		for g := range seen {
			found = found || strings.Contains(g, "Shop is unavailable") || strings.Contains(g, "/trigger")
		}
		if !found {
			t.Errorf("%s: the incident announcement was lost: %q", ch, got[ch])
		}
	}
	// Mastodon and PagerDuty were asked again after the restart with the
	// same key: that is how nothing is lost, and their de-duplication keeps
	// it to one post.
	for _, ch := range []string{"mastodon", "pagerduty", "x", "bluesky"} {
		if len(got[ch]) < 2 {
			t.Errorf("%s was not re-sent after the crash (%d requests)", ch, len(got[ch]))
		}
	}
	if !strings.Contains(got["mastodon"][0], "Shop is unavailable") || !strings.Contains(got["mastodon"][0], "/incidents/inc-") {
		t.Errorf("mastodon text %q", got["mastodon"][0])
	}
}

func TestNotifyTestCommand(t *testing.T) {
	nets := newFakeNetworks(t)
	cfg := writeConfig(t, "site: {title: Acme}\ncomponents: [{id: a, name: A}]\n"+nets.channelsYAML())
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"notify", "test", "-config", cfg, "-channel", "mastodon"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	_, got := nets.snapshot()
	if len(got["mastodon"]) != 1 || !strings.HasPrefix(got["mastodon"][0], "[TEST] This is a test message from Outpost for Acme") {
		t.Fatalf("mastodon got %q", got["mastodon"])
	}
	if !strings.Contains(out.String(), "sent a test message to mastodon (id 1001)") {
		t.Errorf("output %q", out.String())
	}
	if code := run(t.Context(), []string{"notify", "test", "-config", cfg, "-channel", "nope"}, &out, &errb); code != exitConfig {
		t.Errorf("unknown channel: exit %d", code)
	}
}
