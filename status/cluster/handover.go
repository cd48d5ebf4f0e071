package cluster

import (
	"fmt"

	"github.com/hashicorp/raft"

	"github.com/outpost-status/outpost/status/config"
)

// HandOver asks raft to make member id the leader (raft's leadership
// transfer: the leader brings it up to date, has it stand for election,
// and stops leading). The caller picks id: the node hands leadership
// away from a location that cannot reach the world (status/node).
func (n *Node) HandOver(id string) error {
	for _, nd := range n.members.list() {
		if nd.ID == id {
			if err := n.r.LeadershipTransferToServer(raft.ServerID(id), raft.ServerAddress(nd.Address)).Error(); err != nil {
				return fmt.Errorf("hand leadership to %s: %w", id, err)
			}
			return nil
		}
	}
	return fmt.Errorf("hand leadership to %s: not a member", id)
}

// Members is cluster.nodes as this member holds it now (a reload changes
// it).
func (n *Node) Members() []config.ClusterNode { return n.members.list() }
