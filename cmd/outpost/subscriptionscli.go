package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/webhook"
)

// runSubscriptions manages webhook subscriptions on a running Outpost
// through the admin API.
func runSubscriptions(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(stdout, "usage: outpost subscriptions list|log|pause|enable|delete [-id ID] [flags]\n\nRun with a command and -h for its flags.")
		return exitOK
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: outpost subscriptions list|log|pause|enable|delete [-id ID] [flags]")
		return exitConfig
	}
	sub := args[0]
	fs, server := cliFlags("subscriptions "+sub, stderr)
	id := fs.String("id", "", "subscription id (all but list)")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	if sub != "list" && *id == "" {
		fmt.Fprintln(stderr, "outpost subscriptions: -id is required")
		return exitConfig
	}
	api, ok := newAPIClient(*server, stderr)
	if !ok {
		return exitConfig
	}
	path := "/api/v1/subscriptions/" + *id
	var err error
	switch sub {
	case "list":
		var list struct {
			Subscriptions []webhook.View `json:"subscriptions"`
		}
		if err = api.call(ctx, http.MethodGet, "/api/v1/subscriptions", nil, &list); err == nil {
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tCLIENT\tURL\tREASON")
			for _, s := range list.Subscriptions {
				reason := s.ReasonDetail // operators read the raw error
				if reason == "" {
					reason = s.Reason
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, s.State, s.Client, s.URL, reason)
			}
			tw.Flush()
		}
	case "log":
		var log struct {
			Deliveries []store.WebhookDelivery `json:"deliveries"`
		}
		if err = api.call(ctx, http.MethodGet, path+"/deliveries", nil, &log); err == nil {
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "WEBHOOK-ID\tTYPE\tSTATE\tATTEMPT\tSTATUS\tLATENCY\tERROR")
			for _, d := range log.Deliveries {
				for i, a := range d.Attempts {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%.1fms\t%s\n", d.MessageID, d.Type, d.State, a.At.Format(time.RFC3339), a.Status, a.LatencyMS, a.Error)
					if i == 0 {
						d.MessageID, d.Type, d.State = "", "", ""
					}
				}
			}
			tw.Flush()
		}
	case "pause", "enable":
		var v webhook.View
		if err = api.call(ctx, http.MethodPost, path+"/"+sub, nil, &v); err == nil {
			fmt.Fprintf(stdout, "%s %s\n", v.ID, v.State)
		}
	case "delete":
		if err = api.call(ctx, http.MethodDelete, path, nil, nil); err == nil {
			fmt.Fprintf(stdout, "%s deleted\n", *id)
		}
	default:
		fmt.Fprintf(stderr, "outpost subscriptions: unknown command %q\n", sub)
		return exitConfig
	}
	if err != nil {
		fmt.Fprintln(stderr, "outpost subscriptions:", err)
		return exitFailed
	}
	return exitOK
}
