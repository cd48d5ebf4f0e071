package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/outpost-status/outpost/status/cluster"
)

// runClusterStatus asks the node's operators' listener for the cluster as
// that node sees it, within 10 s.
func runClusterStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, path := newFlags("cluster status", stderr)
	asJSON := fs.Bool("json", false, "print the answer as JSON ({leader, nodes})")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, ok := loadConfigFor(*path, stderr, anyField)
	if !ok {
		return exitConfig
	}
	if cfg.Cluster == nil {
		fmt.Fprintln(stderr, "outpost cluster status: the config has no cluster section")
		return exitConfig
	}
	if cfg.Operators.Off() {
		fmt.Fprintln(stderr, "outpost cluster status: operators.listen is off: the node has no surface to ask")
		return exitConfig
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := askCluster(ctx, "http://"+cfg.Operators.Listen+"/api/v1/cluster")
	if err != nil {
		fmt.Fprintln(stderr, "outpost cluster status:", err)
		return exitFailed
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st)
		return exitOK
	}
	leader := "none (no leader is known)"
	if st.Leader != nil {
		leader = *st.Leader
	}
	fmt.Fprintln(stdout, "leader:", leader)
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tLOCATION\tSTATE\tTERM\tCOMMIT\tAPPLIED\tLAG\tLAST CONTACT\tCODEC\tCERT EXPIRES")
	for _, v := range st.Nodes {
		expiry := "-"
		if !v.CertExpiry.IsZero() {
			expiry = v.CertExpiry.UTC().Format(time.DateOnly)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%d\t%s\n", v.Node, v.Location, v.State, v.Term, v.CommitIndex, v.AppliedIndex, v.Lag, v.LastContact, v.Codec, expiry)
	}
	_ = tw.Flush()
	for _, v := range st.Nodes {
		if v.Error != "" {
			fmt.Fprintf(stdout, "%s: %s\n", v.Node, v.Error)
		}
		if v.Removed {
			fmt.Fprintf(stdout, "%s: removed from the cluster by the leader: stop it\n", v.Node)
		}
		if v.Mismatch != "" {
			fmt.Fprintf(stdout, "%s: cluster.nodes and raft's configuration differ: %s\n", v.Node, v.Mismatch)
		}
	}
	return exitOK
}

// askCluster reads /api/v1/cluster (bounded: a status of a few nodes is
// a few kilobytes).
func askCluster(ctx context.Context, url string) (cluster.Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return cluster.Status{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return cluster.Status{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return cluster.Status{}, fmt.Errorf("%s: %s", url, resp.Status)
	}
	var st cluster.Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		return cluster.Status{}, fmt.Errorf("%s: %w", url, err)
	}
	return st, nil
}
