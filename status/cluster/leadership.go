package cluster

import (
	"fmt"
	"sync"
	"time"
)

// StepDown hands this member's leadership to another member (raft's
// leadership transfer) and returns once the transfer is done or failed:
// a leader about to be stopped for maintenance, or a test deposing one
// without killing it.
func (n *Node) StepDown(timeout time.Duration) error {
	f := n.r.LeadershipTransfer()
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("leadership transfer: %w", err)
		}
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("leadership transfer: not done within %s", timeout)
	}
}

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
