package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/outpost-status/outpost/status/config"
)

// cluster.nodes is authoritative: a reload hands a member its new list
// (SetNodes), and the leader brings raft's configuration to it one server
// at a time (AddVoter or RemoveServer, each waited for until it commits),
// as Consul's leader reconciles its members. Until they agree, every
// member says how they differ (View.Mismatch, cluster status, health).

// membersPoll is how often the leader compares cluster.nodes with raft's
// configuration (a reload wakes it at once).
const membersPoll = 500 * time.Millisecond

// departedGrace is how long a member this leader removed is still
// trusted on the node connection: raft tells it of its removal as it
// stops replicating to it, which may need a new connection.
const departedGrace = time.Minute

// roster is what this member knows of the membership: cluster.nodes as
// last loaded (at start, then at each reload), and raft's configuration
// as last read.
type roster struct {
	nodes   atomic.Pointer[[]config.ClusterNode]
	servers atomic.Pointer[[]raft.Server] // raft's latest configuration
	wake    chan struct{}                 // a reload changed nodes
	mu      sync.Mutex
	gone    map[string]time.Time // id → when this leader removed it
}

func newRoster(nodes []config.ClusterNode) *roster {
	r := &roster{wake: make(chan struct{}, 1), gone: map[string]time.Time{}}
	r.setNodes(nodes)
	r.servers.Store(&[]raft.Server{})
	return r
}

func (r *roster) setNodes(nodes []config.ClusterNode) {
	c := slices.Clone(nodes)
	r.nodes.Store(&c)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *roster) list() []config.ClusterNode { return *r.nodes.Load() }

// trusts reports whether id may talk on the node connection: a node of
// cluster.nodes, a server raft's configuration still counts, or one this
// leader removed within departedGrace.
func (r *roster) trusts(id string) bool {
	if slices.ContainsFunc(r.list(), func(n config.ClusterNode) bool { return n.ID == id }) {
		return true
	}
	if slices.ContainsFunc(*r.servers.Load(), func(s raft.Server) bool { return string(s.ID) == id }) {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.gone[id]
	return ok && time.Since(at) < departedGrace
}

// idAt is the node id at a raft address ("" when none): cluster.nodes
// first, then raft's configuration (a server being removed).
func (r *roster) idAt(addr raft.ServerAddress) string {
	for _, n := range r.list() {
		if n.Address == string(addr) {
			return n.ID
		}
	}
	for _, s := range *r.servers.Load() {
		if s.Address == addr {
			return string(s.ID)
		}
	}
	return ""
}

// SetNodes hands this member the cluster.nodes of a reloaded config: it
// trusts and dials them from now on, and, while it leads, brings raft's
// configuration to them.
func (n *Node) SetNodes(nodes []config.ClusterNode) {
	same := slices.Equal(n.members.list(), nodes)
	n.members.setNodes(nodes)
	if !same {
		// A new member may run an older Outpost. Shut after the list is
		// set: an ask that read the generation before this reads the old
		// list or the new, and keeps nothing either way.
		n.codecOK.shut()
	}
}

// keepMembers reads raft's configuration and, on the leader, makes one
// change towards cluster.nodes at a time, until the node closes.
func (n *Node) keepMembers(done <-chan struct{}) {
	tick := time.NewTicker(membersPoll)
	defer tick.Stop()
	for {
		n.memberStep()
		select {
		case <-done:
			return
		case <-tick.C:
		case <-n.members.wake:
		}
	}
}

// memberStep reads raft's configuration (whether this member is still in
// it) and, on the leader, makes the next change.
func (n *Node) memberStep() {
	f := n.r.GetConfiguration()
	if f.Error() != nil {
		return
	}
	servers := f.Configuration().Servers
	n.members.servers.Store(&servers)
	out := len(servers) > 0 && !slices.ContainsFunc(servers, func(s raft.Server) bool { return string(s.ID) == n.id })
	if out && !n.removed.Swap(true) {
		n.log.Warn("this node was removed from the cluster: it writes and announces nothing; stop it")
	}
	if n.r.State() == raft.Leader {
		if err := n.changeOne(servers, f.Index()); err != nil {
			n.log.Warn("cluster membership change failed; retried", slog.Any("error", err))
		}
	}
}

// change is one step from raft's configuration towards cluster.nodes.
type change struct {
	add     bool // AddVoter (a new member, or a member's new address); else RemoveServer
	id      string
	address string
}

// nextChange is the first step towards want: adding before removing (so
// the voters never drop below what both lists share), and this node's own
// removal last (it stops leading then).
func nextChange(want []config.ClusterNode, have []raft.Server, self string) (change, bool) {
	for _, w := range want {
		i := slices.IndexFunc(have, func(s raft.Server) bool { return string(s.ID) == w.ID })
		if i < 0 || string(have[i].Address) != w.Address || have[i].Suffrage != raft.Voter {
			return change{add: true, id: w.ID, address: w.Address}, true
		}
	}
	var last *change
	for _, s := range have {
		if slices.ContainsFunc(want, func(w config.ClusterNode) bool { return w.ID == string(s.ID) }) {
			continue
		}
		c := change{id: string(s.ID), address: string(s.Address)}
		if c.id != self {
			return c, true
		}
		last = &c
	}
	if last != nil {
		return *last, true
	}
	return change{}, false
}

// changeOne makes the next change and waits until it commits. prev is
// the configuration's index: raft refuses the change if another came
// first.
func (n *Node) changeOne(have []raft.Server, prev uint64) error {
	c, ok := nextChange(n.members.list(), have, n.id)
	if !ok {
		return nil
	}
	var f raft.IndexFuture
	if c.add {
		n.log.Info("adding a member to the cluster", slog.String("node", c.id), slog.String("address", c.address))
		f = n.r.AddVoter(raft.ServerID(c.id), raft.ServerAddress(c.address), prev, n.apply)
	} else {
		n.log.Info("removing a member from the cluster", slog.String("node", c.id))
		n.members.mu.Lock()
		n.members.gone[c.id] = time.Now()
		n.members.mu.Unlock()
		f = n.r.RemoveServer(raft.ServerID(c.id), prev, n.apply)
	}
	if err := f.Error(); err != nil {
		return fmt.Errorf("node %s: %w", c.id, err)
	}
	n.log.Info("cluster membership changed", slog.String("node", c.id), slog.Bool("added", c.add), slog.Uint64("index", f.Index()))
	return nil
}

// Mismatch says how cluster.nodes and raft's configuration (as this
// member last read it) differ: "" when they agree.
func (n *Node) Mismatch() string {
	return mismatch(n.members.list(), *n.members.servers.Load())
}

func mismatch(want []config.ClusterNode, have []raft.Server) string {
	if len(have) == 0 {
		return "raft's configuration is empty: this member waits to be added by the leader"
	}
	var missing, extra []string
	for _, w := range want {
		if i := slices.IndexFunc(have, func(s raft.Server) bool { return string(s.ID) == w.ID }); i < 0 || string(have[i].Address) != w.Address {
			missing = append(missing, w.ID)
		}
	}
	for _, s := range have {
		if !slices.ContainsFunc(want, func(w config.ClusterNode) bool { return w.ID == string(s.ID) }) {
			extra = append(extra, string(s.ID))
		}
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "in cluster.nodes but not in raft's configuration (or at another address): "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		parts = append(parts, "in raft's configuration but not in cluster.nodes: "+strings.Join(extra, ", "))
	}
	return strings.Join(parts, "; ")
}

// ErrRemoved: this member is no longer in raft's configuration (the
// leader removed it): it writes nothing more; stop it.
var ErrRemoved = errors.New("this node was removed from the cluster (raft's configuration no longer lists it): stop it")

// Removed reports whether the leader removed this member.
func (n *Node) Removed() bool { return n.removed.Load() }
