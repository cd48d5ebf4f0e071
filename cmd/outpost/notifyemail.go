package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/email"
)

// notifyTestTimeout bounds the test mail's whole exchange, so a silent
// server cannot hang the command.
const notifyTestTimeout = 30 * time.Second

// notifyEmail is `outpost notify test -email ADDR`: one marked test mail
// through the config's email section (email is not a channel: it goes to
// subscribers, so it has no -channel name).
func notifyEmail(ctx context.Context, cfg *config.Config, path, to string, stdout, stderr io.Writer) int {
	if !cfg.Email.Enabled() {
		fmt.Fprintf(stderr, "outpost notify: %s has no email section (email.from and email.smtp.host)\n", path)
		return exitConfig
	}
	o := cfg.Email.Config
	site := email.Site{Title: cfg.Site.Title, URL: cfg.Site.URL, Location: cfg.Site.Location}
	comp, err := email.NewComposer(email.Options{Site: site, From: o.From, ReplyTo: o.ReplyTo})
	if err != nil {
		fmt.Fprintln(stderr, "outpost notify:", err)
		return exitConfig
	}
	msg, err := comp.TestMail(to, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "outpost notify: -email %q is not a usable address: %v\n", to, err)
		return exitConfig
	}
	tr, err := email.NewTransport(email.TransportOptions{SMTP: o.SMTP, Concurrency: 1, Timeout: notifyTestTimeout,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintln(stderr, "outpost notify:", err)
		return exitConfig
	}
	sctx, cancel := context.WithTimeout(ctx, notifyTestTimeout)
	defer cancel()
	if out := tr.Send(sctx, []email.Message{msg})[0]; out.Err != nil {
		fmt.Fprintf(stderr, "outpost notify: the test mail to %s failed: %v\n", msg.To, out.Err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "sent a test mail to %s (Message-ID %s)\n", msg.To, msg.ID)
	return exitOK
}
