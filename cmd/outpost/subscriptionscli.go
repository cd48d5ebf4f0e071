package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/outpost-status/outpost/status/store"
)

const subscriptionsUsage = "usage: outpost subscriptions list|log|export|pause|enable|disable|delete|erase [-id ID] [flags]"

// subscriptionsArgs are the flags of every subscriptions command.
type subscriptionsArgs struct {
	id, kind, email, reason, out string
}

// runSubscriptions manages subscribers of either kind (webhook, email) on
// a running Outpost through the admin API.
func runSubscriptions(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(stdout, subscriptionsUsage+"\n\nRun with a command and -h for its flags.")
		return exitOK
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, subscriptionsUsage)
		return exitConfig
	}
	sub := args[0]
	fs, server := cliFlags("subscriptions "+sub, stderr)
	var a subscriptionsArgs
	fs.StringVar(&a.id, "id", "", "subscription id (all but list)")
	fs.StringVar(&a.kind, "kind", "", "list: email or webhook subscribers only")
	fs.StringVar(&a.email, "email", "", "list: the email subscriber of this address (without case)")
	fs.StringVar(&a.reason, "reason", "", "disable: why deliveries stop (a bounce, a complaint)")
	fs.StringVar(&a.out, "out", "", "export: write the JSON to this file (default: standard output)")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	if msg := a.check(sub); msg != "" {
		fmt.Fprintln(stderr, "outpost subscriptions:", msg)
		return exitConfig
	}
	api, ok := newAPIClient(*server, stderr)
	if !ok {
		return exitConfig
	}
	if err := subscriptionsCommand(ctx, api, sub, a, stdout); err != nil {
		fmt.Fprintln(stderr, "outpost subscriptions:", err)
		return exitFailed
	}
	return exitOK
}

// check says what is wrong with the flags for command sub, "" if nothing.
func (a subscriptionsArgs) check(sub string) string {
	switch {
	case !strings.Contains(" list log export pause enable disable delete erase ", " "+sub+" "):
		return fmt.Sprintf("unknown command %q", sub)
	case sub != "list" && a.id == "":
		return "-id is required"
	case a.kind != "" && a.kind != string(store.KindEmail) && a.kind != string(store.KindWebhook):
		return "-kind must be email or webhook"
	case sub == "disable" && strings.TrimSpace(a.reason) == "":
		return "-reason is required: why deliveries stop (a bounce, a complaint)"
	}
	return ""
}

func subscriptionsCommand(ctx context.Context, api *apiClient, sub string, a subscriptionsArgs, stdout io.Writer) error {
	path := "/api/v1/subscriptions/" + url.PathEscape(a.id)
	switch sub {
	case "list":
		return listSubscriptions(ctx, api, a, stdout)
	case "log":
		return subscriptionLog(ctx, api, path, stdout)
	case "export":
		return exportSubscription(ctx, api, path, a.out, stdout)
	case "pause", "enable", "disable":
		var body any
		if sub == "disable" {
			body = map[string]string{"reason": a.reason}
		}
		var v subscriberRow
		if err := api.call(ctx, http.MethodPost, path+"/"+sub, body, &v); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s %s\n", v.ID, v.State)
	default: // delete, erase: the subscriber and its deliveries, at once
		if err := api.call(ctx, http.MethodDelete, path, nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s %s\n", a.id, map[string]string{"delete": "deleted", "erase": "erased"}[sub])
	}
	return nil
}

// subscriberRow is a listed subscriber of either kind, as the admin API
// shows it to operators.
type subscriberRow struct {
	ID           string   `json:"id"`
	Kind         string   `json:"kind"`
	State        string   `json:"state"`
	URL          string   `json:"url"`
	Address      string   `json:"address"`
	Components   []string `json:"components"`
	Client       string   `json:"client"`
	Reason       string   `json:"reason"`
	ReasonDetail string   `json:"reason_detail"`
}

func listSubscriptions(ctx context.Context, api *apiClient, a subscriptionsArgs, stdout io.Writer) error {
	q := url.Values{}
	if a.kind != "" {
		q.Set("kind", a.kind)
	}
	if a.email != "" {
		q.Set("email", a.email)
	}
	path := "/api/v1/subscriptions"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var list struct {
		Subscriptions []subscriberRow `json:"subscriptions"`
	}
	if err := api.call(ctx, http.MethodGet, path, nil, &list); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tKIND\tTO\tCOMPONENTS\tCLIENT\tREASON")
	for _, s := range list.Subscriptions {
		to, reason, comps := s.URL, s.ReasonDetail, strings.Join(s.Components, ",")
		if s.Kind == string(store.KindEmail) {
			to = s.Address // operators see the address
		}
		if reason == "" { // operators read the raw error
			reason = s.Reason
		}
		if comps == "" {
			comps = "all"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.State, s.Kind, to, comps, s.Client, reason)
	}
	return tw.Flush()
}

func subscriptionLog(ctx context.Context, api *apiClient, path string, stdout io.Writer) error {
	var log struct {
		Deliveries []store.WebhookDelivery `json:"deliveries"`
	}
	if err := api.call(ctx, http.MethodGet, path+"/deliveries", nil, &log); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MESSAGE-ID\tTYPE\tSTATE\tATTEMPT\tSTATUS\tLATENCY\tERROR")
	for _, d := range log.Deliveries {
		for i, a := range d.Attempts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%.1fms\t%s\n", d.MessageID, d.Type, d.State, a.At.Format(time.RFC3339), a.Status, a.LatencyMS, a.Error)
			if i == 0 {
				d.MessageID, d.Type, d.State = "", "", ""
			}
		}
	}
	return tw.Flush()
}

// exportSubscription writes everything held about one subscriber (a
// data-protection request) as indented JSON, to file or stdout. The file
// is the subscriber's personal data: only its owner may read it.
func exportSubscription(ctx context.Context, api *apiClient, path, file string, stdout io.Writer) error {
	var raw json.RawMessage
	if err := api.call(ctx, http.MethodGet, path+"/export", nil, &raw); err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return fmt.Errorf("the export is not JSON: %w", err)
	}
	out.WriteByte('\n')
	if file == "" {
		_, err := stdout.Write(out.Bytes())
		return err
	}
	if err := os.WriteFile(file, out.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write the export: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s\n", file)
	return nil
}
