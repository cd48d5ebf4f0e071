package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/outpost-status/outpost/status/cluster"
	"github.com/outpost-status/outpost/status/store"
)

// runClusterSeed makes a single Outpost's data file the first member's
// state (docs/operations.md, "Seeding a cluster"): run once, on that
// member only, with Outpost stopped.
func runClusterSeed(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs, path := newFlags("cluster seed", stderr)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, ok := loadConfigFor(*path, stderr, anyField)
	if !ok {
		return exitConfig
	}
	if cfg.Cluster == nil {
		fmt.Fprintln(stderr, "outpost cluster seed: the config has no cluster section")
		return exitConfig
	}
	// The lock keeps a running Outpost's file out: seed it stopped.
	st, err := store.Open(cfg.Storage.Path, store.Options{LockTimeout: 2 * time.Second})
	if err != nil {
		fmt.Fprintln(stderr, "outpost cluster seed: stop Outpost first:", err)
		return exitFailed
	}
	defer st.Close()
	meta, err := cluster.Seed(cfg, st, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		fmt.Fprintln(stderr, "outpost cluster seed:", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "seeded: %s is node %s's state (snapshot %s, %d bytes); start this node first, then the others\n",
		cfg.Storage.Path, cfg.Cluster.Node, meta.ID, meta.Size)
	return exitOK
}
