package cluster

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/raft"

	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/machine"
	"github.com/outpost-status/outpost/status/store"
)

// countingListener counts the connections its listener accepted.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// A follower's forwarded writes reuse one stream to the leader: twenty
// writes one after another open one connection on the leader, not twenty
// (each a mutual-TLS handshake on both sides).
func TestForwardedWritesShareOneStream(t *testing.T) {
	ms := threeNodes(t)
	counts := map[*member]*countingListener{}
	for _, m := range ms {
		cl := &countingListener{Listener: m.ln}
		m.ln, counts[m] = cl, cl
		m.start(t, 0)
	}
	var leader, follower *member
	eventually(t, "leader", func() bool {
		for _, m := range ms {
			if m.node.IsLeader() {
				leader = m
				return true
			}
		}
		return false
	})
	for _, m := range ms {
		if m != leader {
			follower = m
			break
		}
	}
	const writes = 20
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	before := counts[leader].n.Load()
	for i := range writes {
		e := store.Entry{At: now, Settings: []store.Setting{{Key: fmt.Sprintf("k%d", i), Value: "v"}}}
		if _, err := follower.node.Apply(e); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	// One forward stream; one more connection is allowed for raft or a
	// member's account asked meanwhile (neither is a forwarded write).
	if got := counts[leader].n.Load() - before; got > 2 || !leader.node.IsLeader() {
		t.Errorf("%d forwarded writes: the leader accepted %d connections (still leading: %v), want 1", writes, got, leader.node.IsLeader())
	}
	// Each answer waited for the follower's own apply, which woke it: a
	// wait that ran out would have marked the follower behind.
	if since := follower.node.BehindSince(); !since.IsZero() {
		t.Errorf("the follower is behind since %v", since)
	}
}

// oneFrameServer serves the node connection of ams with a forwarded-write
// handler that answers each frame of a stream as a leader would (an empty
// result), at most perStream frames, and then closes the stream; ended
// gets a value for each stream closed. It returns the address and nyc, a
// follower dialing it.
func oneFrameServer(t *testing.T, perStream int) (addr string, nyc *Node, streams *atomic.Int64, ended chan struct{}) {
	t.Helper()
	streams, ended = &atomic.Int64{}, make(chan struct{}, 16)
	body, _ := json.Marshal(answer{Result: &store.Result{}})
	addr, dial := hostileMux(t, func(c net.Conn) {
		streams.Add(1)
		defer func() { c.Close(); ended <- struct{}{} }()
		for range perStream {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := readFrame(c); err != nil || writeFrame(c, body) != nil {
				return
			}
		}
	})
	nyc = &Node{id: "nyc", dial: dial, log: slog.New(slog.DiscardHandler)}
	nyc.fwd = newStreams(nyc.dialForward)
	t.Cleanup(nyc.fwd.close)
	return addr, nyc, streams, ended
}

// waitFor fails t unless ch delivers within 5 s.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: not within 5 s", what)
	}
}

// A stream the leader closed while it sat in the pool (the leader
// restarted, or ended it idle) is found closed before a write is sent on
// it: the write goes on a new stream and is answered, not reported as a
// write of unknown outcome (which it would be, sent and unanswered).
func TestPooledStreamTheLeaderClosedIsNotUsed(t *testing.T) {
	addr, nyc, streams, ended := oneFrameServer(t, 1)
	for i := range 3 {
		if _, err := nyc.forwardTo("ams", addr, []byte(`{}`), true, time.Second); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		waitFor(t, ended, "the leader closing the stream")
	}
	if got := streams.Load(); got != 3 {
		t.Errorf("3 writes on streams the leader closes after each: %d streams, want 3", got)
	}
}

// Idle streams do not outlive their use: the node's Close closes them,
// and so does the idle bound (the leader's own bound is far longer).
func TestIdleForwardStreamsAreClosed(t *testing.T) {
	for _, tc := range []struct {
		name string
		idle time.Duration
		end  func(n *Node)
	}{
		{"by Close", time.Hour, func(n *Node) { n.fwd.close() }},
		{"after the idle bound", 50 * time.Millisecond, func(*Node) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, nyc, streams, ended := oneFrameServer(t, 100)
			nyc.fwd.idle = tc.idle
			for i := range 3 {
				if _, err := nyc.forwardTo("ams", addr, []byte(`{}`), true, time.Second); err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
			}
			select {
			case <-ended:
				t.Fatal("the stream ended before it was idle")
			default:
			}
			tc.end(nyc)
			waitFor(t, ended, "the idle stream closed")
			if got := streams.Load(); got != 1 {
				t.Errorf("3 writes one after another: %d streams, want 1", got)
			}
		})
	}
}

// A write after the leader handed its leadership over reaches the new
// leader (the old one answers "not the leader" on a stream it still
// holds, or the follower already knows the new one).
func TestForwardAfterLeaderChange(t *testing.T) {
	ms, leader := startThree(t)
	var follower, next *member
	for _, m := range ms {
		switch {
		case m == leader:
		case follower == nil:
			follower = m
		default:
			next = m
		}
	}
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	write := func(key string) error {
		_, err := follower.node.Apply(store.Entry{At: now, Settings: []store.Setting{{Key: key, Value: "v"}}})
		return err
	}
	if err := write("before"); err != nil {
		t.Fatal(err)
	}
	if err := leader.node.HandOver(next.id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new leader", func() bool { return next.node.IsLeader() })
	if err := write("after"); err != nil {
		t.Fatalf("a write after the leader changed: %v", err)
	}
	if v, err := next.st.Setting("after"); v != "v" {
		t.Errorf("the new leader reads %q (%v)", v, err)
	}
}

// A leader that stops ends the forward streams its followers keep open
// (it would otherwise wait for them to go quiet for serveIdle).
func TestLeaderStopEndsForwardStreams(t *testing.T) {
	leader, follower := leaderAndFollower(t)
	e := store.Entry{At: time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC), Settings: []store.Setting{{Key: "k", Value: "v"}}}
	if _, err := follower.node.Apply(e); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { leader.stop(); close(stopped) }()
	waitFor(t, stopped, "the leader stopping while a follower keeps a stream open")
}

// A stream outlives its handshake: once its member is no longer one
// (a reload removed it from cluster.nodes), the leader answers none of
// its writes on it.
func TestForwardStreamOfARemovedMember(t *testing.T) {
	nodes := []config.ClusterNode{{ID: "ams", Address: "127.0.0.1:1"}, {ID: "nyc", Address: "127.0.0.1:2"}, {ID: "sgp", Address: "127.0.0.1:3"}}
	ams := &Node{id: "ams", members: newRoster(nodes), log: slog.New(slog.DiscardHandler)} // raft not started: it answers "not the leader"
	addr, nyc, _ := servingMux(t, ams.serveForward)
	c, err := dialNode(nyc, "ams", addr, streamForward, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := writeFrame(c, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if body, err := readFrame(c); err != nil {
		t.Fatalf("a member's write: no answer (%v)", err)
	} else if !strings.Contains(string(body), "not_leader") {
		t.Fatalf("a member's write: %s", body)
	}
	ams.members.setNodes(nodes[:1])
	writeFrame(c, []byte(`{}`))
	if body, err := readFrame(c); err == nil {
		t.Errorf("a removed member's write on its old stream answered: %s", body)
	}
}

// A forwarded write's answer waits for this member's own apply of its
// entry: it returns with the apply, or at the end of its wait with the
// member marked behind. Time is synctest's, so the figures are exact.
func TestAppliedHereWaitsForTheApply(t *testing.T) {
	m := threeNodes(t)[0]
	var err error
	if m.st, err = store.Open(m.cfg.Storage.Path, store.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.st.Close() })
	if m.mach, err = machine.New(machine.Options{Store: m.st, Model: m.cfg.Model()}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		at, apply  uint64 // the mark at the start; what an apply moves it to 30 ms in (0: none)
		want       time.Duration
		wantBehind bool
	}{
		{"applied already", 7, 0, 0, false},
		{"applied while waiting", 6, 7, 30 * time.Millisecond, false},
		{"an apply short of it", 5, 6, time.Second, true},
		{"not applied within the wait", 6, 0, time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := standaloneNode(m.mach, tc.at)
				if tc.apply > 0 {
					go func() {
						time.Sleep(30 * time.Millisecond)
						n.applied.advance(tc.apply)
					}()
				}
				start := time.Now()
				n.appliedHere(7, time.Second)
				if got := time.Since(start); got != tc.want {
					t.Errorf("returned after %v, want %v", got, tc.want)
				}
				if behind := !n.BehindSince().IsZero(); behind != tc.wantBehind {
					t.Errorf("behind: %v, want %v", behind, tc.wantBehind)
				}
				synctest.Wait()
			})
		})
	}
}

// The FSM moves the applied mark with each entry it applies, and not past
// an entry its store halted at (the file does not hold it).
func TestFSMMarksWhatItApplied(t *testing.T) {
	m := threeNodes(t)[0]
	var err error
	if m.st, err = store.Open(m.cfg.Storage.Path, store.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.st.Close() })
	if m.mach, err = machine.New(machine.Options{Store: m.st, Model: m.cfg.Model()}); err != nil {
		t.Fatal(err)
	}
	f := &fsm{m: m.mach, st: m.st, applied: newAppliedMark(0)}
	entry := func(key string) []byte {
		b, err := store.EncodeEntry(store.Entry{At: time.Now(), Settings: []store.Setting{{Key: key, Value: "v"}}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	f.Apply(&raft.Log{Type: raft.LogCommand, Index: 3, Data: entry("a")})
	f.ApplyBatch([]*raft.Log{{Type: raft.LogCommand, Index: 4, Data: entry("b")}, {Type: raft.LogCommand, Index: 5, Data: entry("c")}})
	if got, _ := f.applied.at(); got != 5 {
		t.Fatalf("after entries 3 to 5: mark %d, want 5", got)
	}
	f.Apply(&raft.Log{Type: raft.LogCommand, Index: 6, Data: []byte{0xff, 'x'}}) // does not decode: the store halts
	f.Apply(&raft.Log{Type: raft.LogCommand, Index: 7, Data: entry("d")})
	if got, _ := f.applied.at(); got != 5 || m.st.Halted() == nil {
		t.Errorf("after an entry the store halted at: mark %d (halted: %v), want 5", got, m.st.Halted())
	}
}
