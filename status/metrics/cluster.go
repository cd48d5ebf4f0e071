package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Raft is the cluster member the cluster series read when scraped. The
// node hands it down; metrics knows nothing of raft but its report.
type Raft interface {
	// Stats is hashicorp/raft's own report (Raft.Stats: "state", "term",
	// "commit_index", "last_contact", ...), every value a string.
	Stats() map[string]string
}

// Certificate is one certificate of the node connection and when it ends.
type Certificate struct {
	Kind     string // "node" (this node's own) or "ca" (one CA of the bundle)
	Subject  string // the CA's common name; "" for the node's own
	NotAfter time.Time
}

// raftStates are the states raft reports: each has a series, 1 for the
// one in force, so a dashboard sees a member that stopped being anything.
var raftStates = []string{"Follower", "Candidate", "Leader", "Shutdown"}

var (
	raftStateDesc = prometheus.NewDesc("outpost_cluster_raft_state",
		"1 for this member's raft state (Follower, Candidate, Leader, Shutdown), 0 for the others.", []string{"state"}, nil)
	certDesc = prometheus.NewDesc("outpost_cluster_certificate_expiry_timestamp_seconds",
		"When a certificate of the node connection ends (unix seconds): this node's (certificate=\"node\") and each CA of the bundle.",
		[]string{"certificate", "subject"}, nil)
	contactDesc = prometheus.NewDesc("outpost_cluster_raft_last_contact_seconds",
		"Seconds since this member last heard from the leader (0 on the leader; absent before it first has).", nil, nil)
)

// raftNumbers are the numeric figures of raft's report, one gauge each.
var raftNumbers = []struct {
	key  string
	desc *prometheus.Desc
}{
	{"term", prometheus.NewDesc("outpost_cluster_raft_term", "Raft's current term.", nil, nil)},
	{"commit_index", prometheus.NewDesc("outpost_cluster_raft_commit_index", "The highest log index known to be committed.", nil, nil)},
	{"applied_index", prometheus.NewDesc("outpost_cluster_raft_applied_index", "The highest log index applied to this member's state.", nil, nil)},
	{"last_log_index", prometheus.NewDesc("outpost_cluster_raft_last_log_index", "The last index in this member's log.", nil, nil)},
	{"last_snapshot_index", prometheus.NewDesc("outpost_cluster_raft_last_snapshot_index", "The index of this member's latest snapshot.", nil, nil)},
	{"num_peers", prometheus.NewDesc("outpost_cluster_raft_peers", "Voting members besides this one in raft's configuration.", nil, nil)},
	{"fsm_pending", prometheus.NewDesc("outpost_cluster_raft_fsm_pending", "Committed entries waiting to be applied by the state machine.", nil, nil)},
}

// Cluster registers the cluster series: raft's figures read from r when
// scraped, and the certificates' ends as handed in (those loaded at
// start are the ones in force: the node connection reads its files once).
// A single node never calls it, so it has none of these series.
func (m *Metrics) Cluster(r Raft, certs []Certificate) {
	m.register(&clusterCollector{raft: r, certs: certs})
}

// clusterCollector reads raft's report at scrape time.
type clusterCollector struct {
	raft  Raft
	certs []Certificate
}

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- raftStateDesc
	ch <- certDesc
	ch <- contactDesc
	for _, n := range raftNumbers {
		ch <- n.desc
	}
}

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.raft.Stats()
	for _, s := range raftStates {
		v := 0.0
		if st["state"] == s {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(raftStateDesc, prometheus.GaugeValue, v, s)
	}
	for _, n := range raftNumbers {
		// A figure raft does not report (num_peers when its configuration
		// could not be read) is left out rather than shown as 0.
		if v, err := strconv.ParseUint(st[n.key], 10, 64); err == nil {
			ch <- prometheus.MustNewConstMetric(n.desc, prometheus.GaugeValue, float64(v))
		}
	}
	if d, ok := lastContact(st["last_contact"]); ok {
		ch <- prometheus.MustNewConstMetric(contactDesc, prometheus.GaugeValue, d.Seconds())
	}
	for _, cert := range c.certs {
		ch <- prometheus.MustNewConstMetric(certDesc, prometheus.GaugeValue, float64(cert.NotAfter.Unix()), cert.Kind, cert.Subject)
	}
}

// lastContact reads raft's last_contact: "0" on the leader, "never"
// before a follower first hears from one, else a Go duration.
func lastContact(s string) (time.Duration, bool) {
	if s == "0" {
		return 0, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}
