package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"text/tabwriter"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/config"
)

// probeRow is one line of `outpost probe` output; the JSON field names are
// a documented interface for scripts and CI.
type probeRow struct {
	Name      string         `json:"name"`
	Component string         `json:"component"`
	Kind      string         `json:"kind"`
	Outcome   probes.Outcome `json:"outcome"`
	Reason    probes.Reason  `json:"reason"`
	LatencyMS float64        `json:"latency_ms"`
	Message   string         `json:"message,omitempty"`
	Details   map[string]any `json:"details"`
	// Location is where it ran: this node's location in a cluster (a
	// check fine from one location may fail from another); absent on a
	// single node.
	Location string `json:"location,omitempty"`
}

func runProbe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, path := newFlags("probe", stderr)
	only := fs.String("check", "", "run only the check with this name")
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, ok := loadConfigFor(*path, stderr, notChecks)
	if !ok {
		return exitConfig
	}
	checks := cfg.Checks
	if *only != "" {
		c, ok := cfg.CheckByName(*only)
		if !ok {
			fmt.Fprintf(stderr, "outpost probe: no check named %q in %s\n", *only, *path)
			return exitConfig
		}
		checks = []config.Check{*c}
	}
	rows := probeAll(ctx, checks)
	self := cfg.Cluster.Self()
	for i := range rows {
		rows[i].Location = self.Location
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rows)
	} else {
		if self.Location != "" {
			fmt.Fprintf(stdout, "Probing from %s (node %s)\n", self.Location, self.ID)
		}
		printTable(stdout, rows)
	}
	for _, r := range rows {
		if r.Outcome == probes.Down {
			return exitFailed
		}
	}
	return exitOK
}

// probeAll runs the checks concurrently, each bounded by its own timeout,
// and returns rows in config order.
func probeAll(ctx context.Context, checks []config.Check) []probeRow {
	rows := make([]probeRow, len(checks))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			rctx, cancel := context.WithTimeout(ctx, c.Timeout)
			defer cancel()
			r := c.Probe.Run(rctx)
			details := r.Details
			if details == nil {
				details = map[string]any{}
			}
			rows[i] = probeRow{Name: c.Name, Component: c.Component, Kind: c.Kind, Outcome: r.Outcome,
				Reason: r.Reason, LatencyMS: float64(r.Latency.Microseconds()) / 1000, Message: r.Message, Details: details}
		}()
	}
	wg.Wait()
	return rows
}

func printTable(w io.Writer, rows []probeRow) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tCOMPONENT\tKIND\tOUTCOME\tREASON\tLATENCY\tMESSAGE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.1fms\t%s\n", r.Name, r.Component, r.Kind, r.Outcome, r.Reason, r.LatencyMS, r.Message)
	}
	tw.Flush()
}
