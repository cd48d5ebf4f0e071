package config

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// NodeEnv names the environment variable holding this node's id in a
// cluster; `-node ID` sets it before the config is read, so ${OUTPOST_NODE}
// can pick the node's own files and listeners.
const NodeEnv = "OUTPOST_NODE"

// Cluster is the `cluster:` section: the members and the mutual TLS
// between them. Without the section Config.Cluster is nil and Outpost is
// one node.
type Cluster struct {
	// Nodes lists every member; the same file runs on every node.
	Nodes []ClusterNode `yaml:"nodes"`
	TLS   ClusterTLS    `yaml:"tls"`

	// Raft's timing (0: raft's defaults, made for nodes on one LAN, but
	// commit_timeout's, Outpost's 250 ms (status/cluster); see
	// docs/config.md for nodes on different continents).
	HeartbeatTimeout   time.Duration `yaml:"heartbeat_timeout"`
	ElectionTimeout    time.Duration `yaml:"election_timeout"`
	LeaderLeaseTimeout time.Duration `yaml:"leader_lease_timeout"`
	CommitTimeout      time.Duration `yaml:"commit_timeout"`
	// Log compaction: a snapshot once SnapshotThreshold entries passed
	// (looked at every SnapshotInterval), keeping TrailingLogs entries
	// for members a little behind.
	SnapshotThreshold uint64        `yaml:"snapshot_threshold"`
	SnapshotInterval  time.Duration `yaml:"snapshot_interval"`
	TrailingLogs      uint64        `yaml:"trailing_logs"`

	// Node is this node's id (from -node or OUTPOST_NODE), one of Nodes.
	Node string `yaml:"-"`
}

// ClusterNode is one member: its id (named by its certificate), the
// host:port the others reach it on, and the location it probes from.
type ClusterNode struct {
	ID       string `yaml:"id"`
	Address  string `yaml:"address"`
	Location string `yaml:"location"`
}

// ClusterTLS names the PEM files of the node connection: the CA bundle
// (several CAs while one is rotated out), this node's certificate and key.
type ClusterTLS struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Member reports whether id is one of the cluster's nodes.
func (c *Cluster) Member(id string) bool {
	for _, n := range c.Nodes {
		if n.ID == id {
			return true
		}
	}
	return false
}

// IDs are the nodes' ids in file order.
func (c *Cluster) IDs() []string {
	ids := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		ids[i] = n.ID
	}
	return ids
}

// slugPattern is a DNS label in lower case: node ids become a certificate's
// DNS name, so they must be valid there too.
var slugPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidNodeID reports whether id may name a node (and its certificate):
// a lower-case slug of letters, digits and inner dashes.
func ValidNodeID(id string) bool { return slugPattern.MatchString(id) }

// validateCluster checks the section, resolves its files against the
// config's folder and checks that this node is a member.
func (d *decoder) validateCluster(c *Config, bad badFunc) {
	cl := c.Cluster
	if cl == nil {
		return
	}
	validateClusterNodes(cl, bad)
	validateRaftTiming(cl, bad)
	for _, f := range []struct {
		key, what string
		path      *string
	}{
		{"ca_file", "the CA bundle the nodes' certificates are checked against", &cl.TLS.CAFile},
		{"cert_file", "this node's certificate, e.g. cluster/${OUTPOST_NODE}.pem", &cl.TLS.CertFile},
		{"key_file", "this node's key, e.g. cluster/${OUTPOST_NODE}-key.pem", &cl.TLS.KeyFile},
	} {
		switch {
		case *f.path == "":
			bad("cluster.tls."+f.key, "is required (%s)", f.what)
		case !filepath.IsAbs(*f.path):
			*f.path = filepath.Join(c.Dir, *f.path)
		}
	}
	if len(cl.Nodes) == 0 {
		return
	}
	ids := strings.Join(cl.IDs(), ", ")
	switch {
	case cl.Node == "":
		bad("cluster.nodes", "this node's id is not set: run with -node ID or set %s (one of %s)", NodeEnv, ids)
	case !cl.Member(cl.Node):
		bad("cluster.nodes", "no node has the id %q given by -node or %s (ids: %s)", cl.Node, NodeEnv, ids)
	}
}

// validateClusterNodes checks each member: a unique slug id, a unique
// host:port address and a slug location (locations may repeat).
func validateClusterNodes(cl *Cluster, bad badFunc) {
	if len(cl.Nodes) == 0 {
		bad("cluster.nodes", "at least one node is required")
	}
	ids, addrs := map[string]bool{}, map[string]bool{}
	for i, n := range cl.Nodes {
		p := fmt.Sprintf("cluster.nodes[%d]", i)
		switch {
		case n.ID != "" && !ValidNodeID(n.ID):
			bad(p+".id", "must be a lower-case slug: letters, digits and inner dashes (got %q)", n.ID)
		default:
			uniqueName(ids, n.ID, p+".id", "node id", bad)
		}
		if !validAddress(n.Address) {
			bad(p+".address", "must be host:port with a port (e.g. ams.example.net:7946), got %q", n.Address)
		} else if addrs[n.Address] {
			bad(p+".address", "duplicate address %q: each node listens on its own", n.Address)
		}
		addrs[n.Address] = true
		switch {
		case n.Location == "":
			bad(p+".location", "is required")
		case !ValidNodeID(n.Location):
			bad(p+".location", "must be a lower-case slug: letters, digits and inner dashes (got %q)", n.Location)
		}
	}
}

// validAddress reports a host:port with a host and a numeric port.
func validAddress(a string) bool {
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n > 0 && n < 65536
}

// Self is this node's entry in Nodes (the zero node without a cluster,
// or when Node names none).
func (c *Cluster) Self() ClusterNode {
	if c == nil {
		return ClusterNode{}
	}
	for _, n := range c.Nodes {
		if n.ID == c.Node {
			return n
		}
	}
	return ClusterNode{}
}

// validateRaftTiming checks raft's timing keys as raft would, so a bad
// value is named with its line instead of failing at start.
func validateRaftTiming(cl *Cluster, bad badFunc) {
	for _, k := range []struct {
		key string
		d   time.Duration
	}{{"heartbeat_timeout", cl.HeartbeatTimeout}, {"election_timeout", cl.ElectionTimeout}, {"leader_lease_timeout", cl.LeaderLeaseTimeout},
		{"commit_timeout", cl.CommitTimeout}, {"snapshot_interval", cl.SnapshotInterval}} {
		if k.d < 0 || (k.d > 0 && k.d < 5*time.Millisecond) {
			bad("cluster."+k.key, "must be at least 5ms (or left out for the default), got %s", k.d)
		}
	}
	hb, el, lease := orDefault(cl.HeartbeatTimeout, time.Second), orDefault(cl.ElectionTimeout, time.Second), orDefault(cl.LeaderLeaseTimeout, 500*time.Millisecond)
	if el < hb {
		bad("cluster.election_timeout", "must be at least heartbeat_timeout (%s), got %s", hb, el)
	}
	if lease > hb {
		bad("cluster.leader_lease_timeout", "must be at most heartbeat_timeout (%s), got %s", hb, lease)
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
