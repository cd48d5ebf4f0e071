package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// The on-call CLI talks to a running Outpost's admin API (-server URL,
// token from OUTPOST_ADMIN_TOKEN).

type apiClient struct {
	server, token string
	hc            *http.Client
}

func cliFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("outpost "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "http://127.0.0.1:8080", "the running Outpost's URL")
	return fs, server
}

func newAPIClient(server string, stderr io.Writer) (*apiClient, bool) {
	tok := os.Getenv("OUTPOST_ADMIN_TOKEN")
	if tok == "" {
		fmt.Fprintln(stderr, "outpost: set OUTPOST_ADMIN_TOKEN to an admin token")
		return nil, false
	}
	return &apiClient{server: strings.TrimRight(server, "/"), token: tok, hc: &http.Client{Timeout: 30 * time.Second}}, true
}

// call sends a request and decodes the JSON answer; API errors come back
// as Go errors carrying the server's message (and field).
func (a *apiClient) call(ctx context.Context, method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.server+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct {
				Message string `json:"message"`
				Field   string `json:"field"`
			} `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		if e.Error.Field != "" {
			return fmt.Errorf("%s (field %s)", e.Error.Message, e.Error.Field)
		}
		if e.Error.Message != "" {
			return fmt.Errorf("%s", e.Error.Message)
		}
		return fmt.Errorf("%s", resp.Status)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// componentsFlag parses "api=major_outage,web=degraded_performance".
func componentsFlag(s string) map[string]string {
	out := map[string]string{}
	for kv := range strings.SplitSeq(s, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
			out[k] = v
		}
	}
	return out
}

type incidentOut struct {
	Incident struct {
		ID, Name, Status, Impact string
	} `json:"incident"`
}

func runIncident(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(stdout, "usage: outpost incident create|update|resolve|list [flags]\n\nRun with a command and -h for its flags.")
		return exitOK
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: outpost incident create|update|resolve|list [flags]")
		return exitConfig
	}
	sub := args[0]
	fs, server := cliFlags("incident "+sub, stderr)
	name := fs.String("name", "", "incident title (create)")
	id := fs.String("id", "", "incident id (update, resolve)")
	st := fs.String("status", "", "investigating | identified | monitoring | resolved | postmortem")
	impact := fs.String("impact", "", "none | minor | major | critical")
	msg := fs.String("message", "", "the update's text")
	comps := fs.String("components", "", "component statuses, e.g. api=major_outage,web=operational")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	api, ok := newAPIClient(*server, stderr)
	if !ok {
		return exitConfig
	}
	body := map[string]any{"message": *msg}
	if *st != "" {
		body["status"] = *st
	}
	if *impact != "" {
		body["impact"] = *impact
	}
	if *comps != "" {
		body["components"] = componentsFlag(*comps)
	}
	var out incidentOut
	var err error
	switch sub {
	case "create":
		body["name"] = *name
		err = api.call(ctx, http.MethodPost, "/api/v1/incidents", body, &out)
	case "update", "resolve":
		if *id == "" {
			fmt.Fprintln(stderr, "outpost incident: -id is required")
			return exitConfig
		}
		if sub == "resolve" {
			body["status"] = "resolved"
			if *msg == "" {
				body["message"] = "This incident has been resolved."
			}
		}
		err = api.call(ctx, http.MethodPost, "/api/v1/incidents/"+*id+"/updates", body, &out)
	case "list":
		var list struct {
			Incidents []struct{ ID, Name, Status, Impact string } `json:"incidents"`
		}
		if err = api.call(ctx, http.MethodGet, "/api/v1/incidents", nil, &list); err == nil {
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tIMPACT\tNAME")
			for _, i := range list.Incidents {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", i.ID, i.Status, i.Impact, i.Name)
			}
			tw.Flush()
			return exitOK
		}
	default:
		fmt.Fprintf(stderr, "outpost incident: unknown command %q\n", sub)
		return exitConfig
	}
	if err != nil {
		fmt.Fprintln(stderr, "outpost incident:", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "%s %s (%s, impact %s)\n", out.Incident.ID, out.Incident.Name, out.Incident.Status, out.Incident.Impact)
	return exitOK
}

func runMaintenance(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(stdout, "usage: outpost maintenance add|list|cancel [flags]\n\nRun with a command and -h for its flags.")
		return exitOK
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: outpost maintenance add|list|cancel [flags]")
		return exitConfig
	}
	sub := args[0]
	fs, server := cliFlags("maintenance "+sub, stderr)
	name := fs.String("name", "", "title (add)")
	id := fs.String("id", "", "maintenance id (cancel)")
	comps := fs.String("components", "", "comma-separated component ids (add)")
	start := fs.String("start", "", `start (add): RFC 3339 (2026-12-01T02:00:00Z), "now", or "+DURATION" from now ("+2h")`)
	dur := fs.Duration("duration", time.Hour, "how long (add)")
	msg := fs.String("message", "", "public text (add)")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	api, ok := newAPIClient(*server, stderr)
	if !ok {
		return exitConfig
	}
	var out incidentOut
	switch sub {
	case "add":
		s, err := parseStart(*start, time.Now())
		if err != nil {
			fmt.Fprintln(stderr, "outpost maintenance add:", err)
			return exitConfig
		}
		body := map[string]any{"name": *name, "message": *msg, "components": strings.Split(*comps, ","), "start": s, "end": s.Add(*dur)}
		if err := api.call(ctx, http.MethodPost, "/api/v1/maintenances", body, &out); err != nil {
			fmt.Fprintln(stderr, "outpost maintenance:", err)
			return exitFailed
		}
	case "cancel":
		if err := api.call(ctx, http.MethodDelete, "/api/v1/maintenances/"+*id, nil, &out); err != nil {
			fmt.Fprintln(stderr, "outpost maintenance:", err)
			return exitFailed
		}
	case "list":
		var list struct {
			Maintenances []struct {
				ID, Name, Status string
				Maintenance      struct {
					ScheduledFor   time.Time `json:"scheduled_for"`
					ScheduledUntil time.Time `json:"scheduled_until"`
				} `json:"maintenance"`
			} `json:"maintenances"`
		}
		if err := api.call(ctx, http.MethodGet, "/api/v1/maintenances", nil, &list); err != nil {
			fmt.Fprintln(stderr, "outpost maintenance:", err)
			return exitFailed
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATUS\tFROM\tUNTIL\tNAME")
		for _, m := range list.Maintenances {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.ID, m.Status, m.Maintenance.ScheduledFor.Format(time.RFC3339),
				m.Maintenance.ScheduledUntil.Format(time.RFC3339), m.Name)
		}
		tw.Flush()
		return exitOK
	default:
		fmt.Fprintf(stderr, "outpost maintenance: unknown command %q\n", sub)
		return exitConfig
	}
	fmt.Fprintf(stdout, "%s %s (%s)\n", out.Incident.ID, out.Incident.Name, out.Incident.Status)
	return exitOK
}

// parseStart reads -start: RFC 3339, "now", or "+DURATION" after now.
func parseStart(v string, now time.Time) (time.Time, error) {
	const forms = `RFC 3339 (2026-12-01T02:00:00Z), "now", or "+DURATION" ("+2h")`
	switch {
	case v == "":
		return time.Time{}, fmt.Errorf("-start is required: %s", forms)
	case v == "now":
		return now.UTC().Truncate(time.Second), nil
	case strings.HasPrefix(v, "+"):
		d, err := time.ParseDuration(v[1:])
		if err != nil || d < 0 {
			return time.Time{}, fmt.Errorf("-start %q: not a duration; use %s", v, forms)
		}
		return now.UTC().Add(d).Truncate(time.Second), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("-start %q: use %s", v, forms)
	}
	return t, nil
}
