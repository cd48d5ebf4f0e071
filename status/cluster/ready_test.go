package cluster

import (
	"io"
	"net"
	"testing"
	"time"
)

// A member asked for its account while its raft is not made yet waits,
// and closes the stream once it knows it will not start; it does not
// crash (a nil raft in view took a process down when a peer asked at
// once at a cluster's start).
func TestAccountAskedBeforeRaftIsClosed(t *testing.T) {
	n := &Node{ready: make(chan struct{})}
	a, b := net.Pipe()
	defer a.Close()
	done := make(chan struct{})
	go func() { defer close(done); n.whenReady(n.serveView)(b) }()
	select {
	case <-done:
		t.Fatal("served before raft was made")
	case <-time.After(50 * time.Millisecond):
	}
	close(n.ready) // start failed: no raft
	_ = a.SetDeadline(time.Now().Add(10 * time.Second))
	if got, err := io.ReadAll(a); err != nil || len(got) != 0 {
		t.Fatalf("read %q, %v: want the stream closed with nothing", got, err)
	}
	<-done
}
