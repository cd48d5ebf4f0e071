package cluster

import (
	"fmt"
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
