package node

import (
	"github.com/outpost-status/outpost/status/cluster"
	"github.com/outpost-status/outpost/status/metrics"
)

// clusterFigures hands the metrics this member's raft (read when
// scraped) and its certificates' ends, and warns of any that ends within
// cluster.WarnBefore, as `outpost check` does: the start-up log is where
// an operator looks. The ends are those the member read at start, the
// ones in force until a restart.
func (n *Node) clusterFigures() {
	exp := n.cl.Expiries()
	exp.Warn(n.log, n.now())
	n.met.Cluster(n.cl, certificates(exp))
}

// certificates are exp as the metrics' series: the node's own, then each CA.
func certificates(exp cluster.Expiries) []metrics.Certificate {
	out := []metrics.Certificate{{Kind: "node", NotAfter: exp.Leaf}}
	for _, ca := range exp.CAs {
		out = append(out, metrics.Certificate{Kind: "ca", Subject: ca.Subject, NotAfter: ca.NotAfter})
	}
	return out
}
