package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/notify"
)

// runNotify is `outpost notify test -config FILE -channel NAME` (or
// -email ADDR): a clearly marked test message, so credentials are checked
// before an outage does it.
func runNotify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(stdout, "usage: outpost notify test -config FILE -channel NAME | -email ADDR\n\nRun with a command and -h for its flags.")
		return exitOK
	}
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprintln(stderr, "usage: outpost notify test -config FILE -channel NAME | -email ADDR")
		return exitConfig
	}
	fs, path := newFlags("notify test", stderr)
	name := fs.String("channel", "", "the channel to test")
	to := fs.String("email", "", "send a test mail to this address through the email section")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	cfg, ok := loadConfig(*path, stderr)
	if !ok {
		return exitConfig
	}
	if *to != "" {
		return notifyEmail(ctx, cfg, *path, *to, stdout, stderr)
	}
	chs, err := notify.Build(cfg.Setups(), memSessions{})
	if err != nil {
		fmt.Fprintln(stderr, "outpost notify:", err)
		return exitConfig
	}
	for _, ch := range chs {
		if ch.Name != *name {
			continue
		}
		now := time.Now().UTC()
		text := fmt.Sprintf("[TEST] This is a test message from Outpost for %s, sent %s. If you can read it, Outpost can reach this channel; no action is needed.",
			cfg.Site.Title, now.Format("2006-01-02 15:04 MST"))
		msg := notify.Message{Key: fmt.Sprintf("outpost-test-%d", now.UnixNano()), Test: true, Title: "[TEST] " + cfg.Site.Title + " status",
			Text: text, URL: cfg.Site.URL + "/", Operators: ch.Operators,
			Event: status.Event{ID: "test", Type: "test", At: now, Text: text}}
		if ch.Limit > 0 {
			msg.Text = notify.Fit(text, msg.URL, ch.Limit, ch.Count)
		}
		sctx, cancel := context.WithTimeout(ctx, ch.Timeout)
		remote, err := ch.Notifier.Send(sctx, msg)
		cancel()
		if err != nil {
			fmt.Fprintf(stderr, "outpost notify: %s: %v\n", ch.Name, err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "sent a test message to %s%s\n", ch.Name, map[bool]string{true: " (id " + remote + ")", false: ""}[remote != ""])
		return exitOK
	}
	fmt.Fprintf(stderr, "outpost notify: no channel named %q in %s\n", *name, *path)
	return exitConfig
}

// memSessions keeps a Bluesky session for one `notify test` run (the data
// file may be locked by the running Outpost).
type memSessions map[string]string

func (m memSessions) Setting(k string) (string, error) { return m[k], nil }

func (m memSessions) SetSetting(k, v string) error { m[k] = v; return nil }
