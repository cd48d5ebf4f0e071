package node

import (
	"context"
	"log/slog"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
)

// handOverPoll is how often a leader looks whether its location can still
// reach the world; handOverBackoff how long it waits after a transfer
// that failed (raft refuses every write while one is under way, for up to
// an election timeout) before it tries the next member.
const (
	handOverPoll    = time.Second
	handOverBackoff = 10 * time.Second
)

// handOver gives leadership away while this node's location is out of the
// vote (its canaries say it cannot reach the world, or it alone sees
// several hosts fail: the replicated State.Faulty). Only the leader
// announces, and a leader whose routes were flushed (June 2025) would hold
// every announcement back while the cluster link keeps it leading. It
// hands over to a member at a location in the vote whose results are
// fresh (alive and seeing), the members in turn after a failure; with
// none, it keeps leading.
func (n *Node) handOver(ctx context.Context) {
	tick := time.NewTicker(handOverPoll)
	defer tick.Stop()
	var last string
	var wait time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !n.cl.IsLeader() || n.now().Before(wait) {
			continue
		}
		to := n.handOverTo(last)
		if to == "" {
			continue
		}
		n.log.Warn("this node's location is out of the vote: handing leadership over", slog.String("to", to))
		if err := n.cl.HandOver(to); err != nil {
			n.log.Error("handing leadership over failed", slog.String("to", to), slog.Any("error", err))
			last, wait = to, n.now().Add(handOverBackoff)
		}
	}
}

// handOverTo is the member to hand leadership to: "" while this node's
// location is in the vote, or no member elsewhere is in it with fresh
// results. It starts after the member tried last, so a member that
// cannot take it does not hold the others back.
func (n *Node) handOverTo(last string) string {
	members := n.cl.Members()
	self := n.cfg.Cluster.Self()
	var out map[string]time.Time
	var fresh map[string]bool
	n.mach.Read(func(e *status.Engine) {
		// Every second on the leader: scan every check for fresh
		// locations only once this location is out of the vote.
		if out = e.LocationsOut(); !out[self.Location].IsZero() {
			fresh = e.FreshLocations(n.now())
		}
	})
	return pickHandOver(members, self, out, fresh, last)
}

// pickHandOver is handOverTo's choice, from what it read.
func pickHandOver(members []config.ClusterNode, self config.ClusterNode, out map[string]time.Time, fresh map[string]bool, last string) string {
	if _, cut := out[self.Location]; !cut {
		return ""
	}
	start := 0
	for i, nd := range members {
		if nd.ID == last {
			start = i + 1
		}
	}
	for i := range members {
		nd := members[(start+i)%len(members)]
		if _, cut := out[nd.Location]; nd.ID != self.ID && !cut && fresh[nd.Location] {
			return nd.ID
		}
	}
	return ""
}
