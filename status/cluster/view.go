package cluster

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// View is one member's account of itself, as `outpost cluster status`
// shows it: every member answers for itself over the node connection, and
// the member asked gathers them.
type View struct {
	Node         string    `json:"node"`
	Location     string    `json:"location,omitempty"`
	Address      string    `json:"address"`
	State        string    `json:"state"` // Leader, Follower, Candidate, Shutdown; "starting" before its raft runs; "unreachable" when it did not answer
	Leader       string    `json:"leader"`
	Term         uint64    `json:"term"`
	CommitIndex  uint64    `json:"commit_index"`
	AppliedIndex uint64    `json:"applied_index"`
	Lag          uint64    `json:"lag"`                // entries behind the leader's commit index (filled by the gatherer)
	LastContact  string    `json:"last_contact"`       // since it last heard from the leader, as raft says it
	Codec        int       `json:"codec"`              // the newest entry encoding it writes and reads
	LastIndex    uint64    `json:"last_index"`         // its log's last index (or its snapshot's): 0 while it holds no raft state
	Mismatch     string    `json:"mismatch,omitempty"` // how its cluster.nodes differs from raft's configuration ("" when they agree)
	Removed      bool      `json:"removed,omitempty"`  // the leader removed it from raft's configuration
	CertExpiry   time.Time `json:"cert_expiry,omitzero"`
	Error        string    `json:"error,omitempty"`
}

// Status is the cluster as one member sees it.
type Status struct {
	Leader *string `json:"leader"` // the leader's node id; null while none is known
	Nodes  []View  `json:"nodes"`
}

// view is this member's own account.
func (n *Node) view() View {
	if !n.up.Load() {
		return n.startingView()
	}
	st := n.r.Stats()
	num := func(k string) uint64 { v, _ := strconv.ParseUint(st[k], 10, 64); return v }
	v := View{Node: n.id, Location: n.cfg.Cluster.Self().Location, Address: n.cfg.Cluster.Self().Address, State: st["state"],
		Leader: n.Leader(), Term: num("term"), CommitIndex: num("commit_index"), AppliedIndex: num("applied_index"),
		LastContact: st["last_contact"], Codec: int(n.codec.Load()), CertExpiry: n.expiry.Leaf,
		LastIndex: max(num("last_log_index"), num("last_snapshot_index")), Mismatch: n.Mismatch(), Removed: n.Removed()}
	return v
}

// startingView is the account of a member whose raft has not started:
// members started together ask each other at that moment whether any
// holds raft state (bootstrap), so it says what its log holds.
func (n *Node) startingView() View {
	v := View{Node: n.id, Location: n.cfg.Cluster.Self().Location, Address: n.cfg.Cluster.Self().Address, State: "starting",
		Codec: int(n.codec.Load()), CertExpiry: n.expiry.Leaf}
	if n.logs != nil {
		v.LastIndex, _ = n.logs.LastIndex()
	}
	return v
}

// serveView answers a member's request for this member's account.
func (n *Node) serveView(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	body, _ := json.Marshal(n.view())
	_ = writeFrame(c, body)
}

// askView asks member id at addr for its account.
func (n *Node) askView(id, addr string, timeout time.Duration) (View, error) {
	c, err := dialNode(n.dial, id, addr, streamStatus, timeout)
	if err != nil {
		return View{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	body, err := readFrame(c)
	if err != nil {
		return View{}, fmt.Errorf("node %s: %w", id, err)
	}
	var v View
	if err := json.Unmarshal(body, &v); err != nil {
		return View{}, fmt.Errorf("node %s: %w", id, err)
	}
	return v, nil
}

// Status gathers every member's account (each asked at once, within
// timeout) and each one's lag behind the leader's commit index.
func (n *Node) Status(timeout time.Duration) Status {
	nodes := n.members.list()
	views := make([]View, len(nodes))
	var wg sync.WaitGroup
	for i, nd := range nodes {
		if nd.ID == n.id {
			views[i] = n.view()
			continue
		}
		wg.Go(func() {
			v, err := n.askView(nd.ID, nd.Address, timeout)
			if err != nil {
				v = View{Node: nd.ID, Location: nd.Location, Address: nd.Address, State: "unreachable", Error: err.Error()}
			}
			views[i] = v
		})
	}
	wg.Wait()
	var out Status
	var commit uint64
	for _, v := range views {
		if v.State == "Leader" {
			id := v.Node
			out.Leader, commit = &id, v.CommitIndex
		}
	}
	for i := range views {
		if out.Leader != nil && views[i].State != "unreachable" && commit > views[i].AppliedIndex {
			views[i].Lag = commit - views[i].AppliedIndex
		}
	}
	out.Nodes = views
	return out
}
