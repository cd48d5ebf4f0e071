package node

import (
	"log/slog"

	"github.com/outpost-status/outpost/status/cluster"
	"github.com/outpost-status/outpost/status/metrics"
)

// clusterFigures hands the metrics this member's raft (read when
// scraped) and its certificates' ends, and warns of any that ends within
// cluster.WarnBefore, as `outpost check` does: the start-up log is where
// an operator looks. They are read once, here: the node connection
// loaded its files at start, so these are the ones in force until a
// restart.
func (n *Node) clusterFigures() {
	exp, err := cluster.Expiry(n.cfg)
	if err != nil {
		// TLSConfig read the same files a moment ago; should they have
		// gone since, raft's figures are still worth having.
		n.log.Warn("cluster certificates unreadable: no expiry series", slog.Any("error", err))
		n.met.Cluster(n.cl, nil)
		return
	}
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
