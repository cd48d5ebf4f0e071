package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
)

// joinAsk bounds how long a member without raft state waits for the
// others' accounts before it decides whether to bootstrap.
const joinAsk = 2 * time.Second

// bootstrap starts a member that holds no raft state. If another member
// already holds some (a running cluster this node is being added to, or a
// seeded first member), it waits to be added by the leader and installs
// its state by snapshot: bootstrapping a configuration of its own would
// give it a log at index 1 that agrees in term with, but differs from,
// the cluster's. Otherwise (the first start of every member) each
// bootstraps the same configuration, all of cluster.nodes as voters.
func (n *Node) bootstrap() error {
	if by := n.someoneHasState(); by != "" {
		n.log.Info("joining a running cluster: waiting for its leader to add this node", slog.String("asked", by))
		return nil
	}
	err := n.r.BootstrapCluster(configuration(n.members.list())).Error()
	if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return fmt.Errorf("raft bootstrap: %w", err)
	}
	return nil
}

// someoneHasState asks the other members (at once, within joinAsk) and
// names one that holds raft state ("" when none answered so).
func (n *Node) someoneHasState() string {
	var mu sync.Mutex
	var found string
	var wg sync.WaitGroup
	for _, nd := range n.members.list() {
		if nd.ID == n.id {
			continue
		}
		wg.Go(func() {
			if v, err := n.askView(nd.ID, nd.Address, joinAsk); err == nil && v.LastIndex > 0 {
				mu.Lock()
				found = nd.ID
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return found
}

// configuration is raft's configuration of nodes, all voters.
func configuration(nodes []config.ClusterNode) raft.Configuration {
	var c raft.Configuration
	for _, nd := range nodes {
		c.Servers = append(c.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(nd.ID), Address: raft.ServerAddress(nd.Address)})
	}
	return c
}

// seedIndex is the log index a seeded member's snapshot stands at: past
// the index 1 a bootstrap writes, so a member that bootstrapped by
// mistake still finds its log behind the seed's and installs it.
const seedIndex = 2

// Seed makes the data file of a single Outpost the first member's state,
// with its history: raft's folder beside the file gets a snapshot of the
// replicated file at index seedIndex (term 1) with cluster.nodes as its
// configuration, as raft's RecoverCluster writes one. The first start
// then stands on it; the other members, started after, find it, do not
// bootstrap, and install it by snapshot once it leads. Run it with
// Outpost stopped (st is open on the file), once, on one member only. It
// refuses a file that already belongs to a cluster, and a member that
// already has raft state.
func Seed(cfg *config.Config, st *store.Store, log *slog.Logger) (raft.SnapshotMeta, error) {
	if cfg.Cluster == nil {
		return raft.SnapshotMeta{}, errors.New("the config has no cluster section")
	}
	if i, err := st.AppliedIndex(); err != nil || i != 0 {
		return raft.SnapshotMeta{}, fmt.Errorf("the data file has applied a cluster's log already (index %d): it is a member's, not a single Outpost's (%v)", i, err)
	}
	dir := raftDir(cfg.Storage.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return raft.SnapshotMeta{}, fmt.Errorf("raft folder: %w", err)
	}
	logs, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		return raft.SnapshotMeta{}, fmt.Errorf("raft log %s: %w", dir, err)
	}
	defer logs.Close()
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hclogFor(log))
	if err != nil {
		return raft.SnapshotMeta{}, fmt.Errorf("raft snapshots: %w", err)
	}
	if had, err := raft.HasExistingState(logs, logs, snaps); err != nil || had {
		return raft.SnapshotMeta{}, fmt.Errorf("%s holds raft state already: this node is a member; seed only a single Outpost's file (%v)", dir, err)
	}
	// The transport only encodes addresses for raft's old peer format,
	// which the network transport does as the in-memory one does.
	_, trans := raft.NewInmemTransport("")
	defer trans.Close()
	sink, err := snaps.Create(raft.SnapshotVersionMax, seedIndex, 1, configuration(cfg.Cluster.Nodes), 1, trans)
	if err != nil {
		return raft.SnapshotMeta{}, fmt.Errorf("seed snapshot: %w", err)
	}
	if _, err := st.Snapshot(sink); err != nil {
		sink.Cancel()
		return raft.SnapshotMeta{}, fmt.Errorf("seed snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return raft.SnapshotMeta{}, fmt.Errorf("seed snapshot: %w", err)
	}
	list, err := snaps.List()
	if err != nil || len(list) == 0 {
		return raft.SnapshotMeta{}, fmt.Errorf("seed snapshot not listed: %v", err)
	}
	return *list[0], nil
}
