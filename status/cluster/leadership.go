package cluster

import (
	"fmt"
	"slices"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/outpost-status/outpost/status/config"
)

// HandOver hands this member's leadership to member id (to the member
// raft picks when id is ""), and returns once raft's transfer is done or
// failed (raft bounds it by an election timeout): a leader whose location
// is out of the vote (status/node handOver), a leader about to be stopped,
// or a test deposing one without killing it.
func (n *Node) HandOver(id string) error {
	f := n.r.LeadershipTransfer
	if id != "" {
		nodes := n.members.list()
		i := slices.IndexFunc(nodes, func(nd config.ClusterNode) bool { return nd.ID == id })
		if i < 0 {
			return fmt.Errorf("hand leadership to %s: not a member", id)
		}
		addr := nodes[i].Address
		f = func() raft.Future { return n.r.LeadershipTransferToServer(raft.ServerID(id), raft.ServerAddress(addr)) }
	}
	if err := f().Error(); err != nil {
		return fmt.Errorf("leadership transfer to %q: %w", id, err)
	}
	return nil
}

// Members is cluster.nodes as this member holds it now (a reload changes
// it).
func (n *Node) Members() []config.ClusterNode { return n.members.list() }

// leadership carries raft's leadership notifications to any number of
// readers. raft.LeaderCh is a channel of capacity one that raft
// overwrites: each value reaches one reader, so several readers would
// steal each other's (and Config.NotifyCh blocks raft until read). One
// goroutine reads it and closes the channel of the moment, which every
// reader holding it sees.
type leadership struct {
	mu      sync.Mutex
	changed chan struct{}
	stop    chan struct{} // closed by Close
	done    chan struct{} // closed when watch returns
	once    sync.Once
}

func newLeadership() *leadership {
	return &leadership{changed: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
}

// watch reads raft's notifications until the member closes.
func (l *leadership) watch(ch <-chan bool) {
	defer close(l.done)
	for {
		select {
		case <-l.stop:
			return
		case <-ch:
			l.mu.Lock()
			close(l.changed)
			l.changed = make(chan struct{})
			l.mu.Unlock()
		}
	}
}

func (l *leadership) close() {
	l.once.Do(func() { close(l.stop) })
	<-l.done
}

// LeadershipChanged is closed at this member's next gain or loss of
// leadership. A reader takes it before it looks at IsLeader, so no
// change between the two is missed.
func (n *Node) LeadershipChanged() <-chan struct{} {
	n.lead.mu.Lock()
	defer n.lead.mu.Unlock()
	return n.lead.changed
}
