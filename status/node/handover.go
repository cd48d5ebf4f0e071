package node

import (
	"context"
	"log/slog"
	"maps"
	"time"

	"github.com/outpost-status/outpost/status"
)

// handOverPoll is how often a leader looks whether its location can still
// reach the world.
const handOverPoll = time.Second

// handOver gives leadership away while this node's location is out of the
// vote (its canaries say it cannot reach the world, or it alone sees
// several hosts fail: the replicated State.Faulty). Only the leader
// announces, and a leader whose routes were flushed (June 2025) would hold
// every announcement back while the cluster link keeps it leading. It
// hands over to a member at a location in the vote; with none, it keeps
// leading.
func (n *Node) handOver(ctx context.Context) {
	tick := time.NewTicker(handOverPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !n.cl.IsLeader() {
			continue
		}
		if to := n.handOverTo(); to != "" {
			n.log.Warn("this node's location is out of the vote: handing leadership over", slog.String("to", to))
			if err := n.cl.HandOver(to); err != nil {
				n.log.Error("handing leadership over failed", slog.Any("error", err))
			}
		}
	}
}

// handOverTo is the member to hand leadership to: "" while this node's
// location is in the vote, or no other location is.
func (n *Node) handOverTo() string {
	var out map[string]time.Time
	n.mach.Read(func(e *status.Engine) { out = maps.Clone(e.State().Faulty) })
	self := n.cfg.Cluster.Self()
	if _, cut := out[self.Location]; !cut {
		return ""
	}
	for _, nd := range n.cfg.Cluster.Nodes {
		if _, cut := out[nd.Location]; nd.ID != self.ID && !cut {
			return nd.ID
		}
	}
	return ""
}
