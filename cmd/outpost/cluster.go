package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/outpost-status/outpost/status/cluster"
	"github.com/outpost-status/outpost/status/config"
)

// clusterUsage lists the cluster subcommands.
const clusterUsage = `usage: outpost cluster certs -out DIR -nodes a,b,c [-days N] [-force]
       outpost cluster status -config FILE [-node ID] [-json]
       outpost cluster seed -config FILE -node ID

  certs   write a CA and each node's certificate and key (DIR/ca.pem,
          DIR/ID.pem, DIR/ID-key.pem) for the cluster section's mutual TLS
  status  ask a node (its operators' listener) for every member's account:
          leader, term, commit and applied index, state, last contact,
          lag, location, codec and certificate expiry, and where a
          member's cluster.nodes differs from raft's configuration
  seed    make a single Outpost's data file this first member's state,
          with its history (once, Outpost stopped; docs/operations.md)`

func runCluster(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(stdout, clusterUsage)
		return exitOK
	}
	switch {
	case len(args) > 0 && args[0] == "certs":
		return runClusterCerts(ctx, args[1:], stdout, stderr)
	case len(args) > 0 && args[0] == "status":
		return runClusterStatus(ctx, args[1:], stdout, stderr)
	case len(args) > 0 && args[0] == "seed":
		return runClusterSeed(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintln(stderr, clusterUsage)
	return exitConfig
}

// runClusterCerts makes a cluster's certificates. The CA's key is not
// kept (see cluster.WriteCerts): a new node means a new set, rotated in.
func runClusterCerts(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("outpost cluster certs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "folder to write ca.pem, ID.pem and ID-key.pem into (required)")
	nodes := fs.String("nodes", "", "the node ids, comma-separated, as in cluster.nodes (required)")
	days := fs.Int("days", 365, "days the CA and the certificates are valid")
	force := fs.Bool("force", false, "replace files that exist")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	o := cluster.CertOptions{Dir: *out, Days: *days, Force: *force, Now: time.Now()}
	if *nodes != "" {
		o.Nodes = strings.Split(*nodes, ",")
	}
	err := o.Check()
	if err == nil && *out == "" {
		err = fmt.Errorf("-out is required")
	}
	if err != nil {
		fmt.Fprintln(stderr, "outpost cluster certs:", err)
		return exitConfig
	}
	files, err := cluster.WriteCerts(o)
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	if err != nil {
		fmt.Fprintln(stderr, "outpost cluster certs:", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "valid until %s; copy ca.pem and each node's two files to that node only\n", o.Now.AddDate(0, 0, *days).UTC().Format(time.DateOnly))
	return exitOK
}

// checkCluster loads this node's mutual TLS as a node would at start,
// so `check` names a bad certificate, bundle or key mode now; it prints
// the node and when its certificates end, and warns 30 days ahead.
func checkCluster(cfg *config.Config, stdout, stderr io.Writer) bool {
	cl := cfg.Cluster
	if _, err := cluster.TLSConfig(cfg, cl.Node); err != nil {
		fmt.Fprintln(stderr, "cluster:", err)
		return false
	}
	exp, err := cluster.Expiry(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "cluster:", err)
		return false
	}
	exp.Warn(slog.New(slog.NewTextHandler(stderr, nil)), time.Now())
	fmt.Fprintf(stdout, "cluster: node %s, %s valid until %s; %d CA(s), %d nodes\n", cl.Node, cl.TLS.CertFile,
		exp.Leaf.UTC().Format(time.DateOnly), len(exp.CAs), len(cl.Nodes))
	return true
}
