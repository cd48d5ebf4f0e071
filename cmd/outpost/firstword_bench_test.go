package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkTimeToFirstWord: from the target going down to the post
// arriving at a fake Mastodon, X or Bluesky, with a 5 s interval,
// failure_threshold 3 and 2 s re-checks, over 5 outages each. About 2.5 min:
//
//	go test ./cmd/outpost -run '^$' -bench TimeToFirstWord -benchtime 1x
func BenchmarkTimeToFirstWord(b *testing.B) {
	for _, ch := range []string{
		`{name: mastodon, kind: mastodon, server: "%s", token: t0ken}`,
		`{name: x, kind: x, api_base: "%s", consumer_key: ck, consumer_secret: cs, token: at, access_secret: as}`,
		`{name: bluesky, kind: bluesky, server: "%s", handle: status.example.com, app_password: pw}`,
	} {
		name := strings.TrimSuffix(strings.Fields(ch)[1], ",")
		b.Run(name, func(b *testing.B) { timeToFirstWord(b, ch, name) })
	}
}

// timeToFirstWord measures name's posts. The fake network also signals
// what is not a post of its own (Mastodon's "mastodon replies": a reopened
// incident's post answers the first one), so only name's arrivals count:
// counting those too took a post's reply for the recovery post, stopped a
// target the check had not yet seen back, and then waited 60 s for a post
// that an outage never ended could not make.
func timeToFirstWord(b *testing.B, channel, name string) {
	bin := outpostBinary(b)
	nets := newFakeNetworks(b)
	tg := &target{addr: "127.0.0.1:0"}
	tg.start(b)
	listen := freeAddr(b)
	cfg := filepath.Join(b.TempDir(), "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
site: {title: First Word}
listen: %s
components: [{id: shop, name: Shop}]
checks:
  - {name: shop-home, component: shop, kind: http, target: "http://%s/", interval: 5s, timeout: 2s,
     failure_threshold: 3, success_threshold: 1, recheck_interval: 2s}
channels:
  - %s
`, listen, tg.addr, fmt.Sprintf(channel, nets.srv.URL))), 0o600)
	startOutpostWith(b, bin, cfg, "http://"+listen, defaultClient()) // stopped by its cleanup
	drain := func() {
		for {
			select {
			case <-nets.arrived:
			default:
				return
			}
		}
	}
	var times []time.Duration
	b.ResetTimer()
	for i := range 5 {
		time.Sleep(time.Duration(i*1300) * time.Millisecond % (5 * time.Second)) // vary the phase against the schedule
		drain()
		down := time.Now()
		tg.stop()
		if !posted(nets, name, 60*time.Second) {
			b.Fatalf("outage %d: no post within 60 s", i)
		}
		times = append(times, time.Since(down))
		tg.start(b)
		if !posted(nets, name, 60*time.Second) { // the recovery post
			b.Fatalf("outage %d: no recovery post", i)
		}
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(times[len(times)/2].Seconds(), "median-s")
	b.ReportMetric(times[0].Seconds(), "min-s")
	b.ReportMetric(times[len(times)-1].Seconds(), "max-s")
}

// posted waits up to d for a post of channel name to arrive.
func posted(nets *fakeNetworks, name string, d time.Duration) bool {
	deadline := time.After(d)
	for {
		select {
		case ch := <-nets.arrived:
			if ch == name {
				return true
			}
		case <-deadline:
			return false
		}
	}
}
