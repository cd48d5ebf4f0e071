package cluster

import (
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/config"
)

// A member removed after it opened a stream gets no write served on it,
// its first frame included (the stream was trusted at its handshake).
func TestFirstFrameOfARemovedMember(t *testing.T) {
	nodes := []config.ClusterNode{{ID: "ams", Address: "127.0.0.1:1"}, {ID: "nyc", Address: "127.0.0.1:2"}, {ID: "sgp", Address: "127.0.0.1:3"}}
	ams := &Node{id: "ams", members: newRoster(nodes), log: slog.New(slog.DiscardHandler)}
	addr, nyc, _ := servingMux(t, ams.serveForward)
	c, err := dialNode(nyc, "ams", addr, streamForward, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ams.members.setNodes(nodes[:1]) // after the handshake: nyc is no member any more
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := writeFrame(c, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if body, err := readFrame(c); err == nil {
		t.Errorf("a removed member's first write on a stream it opened before: answered %s", body)
	}
}

// delayProxy forwards TCP both ways, each chunk and the close a one-way
// delay late (a leader in another region).
func delayProxy(t *testing.T, upstream string, delay time.Duration) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 64<<10)
		for {
			n, err := src.Read(buf)
			time.Sleep(delay)
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					src.Close()
					return
				}
			}
			if err != nil {
				dst.(*net.TCPConn).CloseWrite()
				return
			}
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); u.Close() })
			go pipe(u, c)
			go pipe(c, u)
		}
	}()
	return ln.Addr().String()
}

// A leader that stops while a follower's write is on its way (20 ms one
// way) says it read no frame: the follower learns "closing" and sends the
// write to the next leader. Before, the stream was closed under it and a
// write the leader never read was of unknown outcome (an EOF for an
// answer).
func TestStoppingLeaderSaysGoodbye(t *testing.T) {
	nodes := []config.ClusterNode{{ID: "ams", Address: "127.0.0.1:1"}, {ID: "nyc", Address: "127.0.0.1:2"}}
	ams := &Node{id: "ams", members: newRoster(nodes), log: slog.New(slog.DiscardHandler)} // raft not started: "not the leader"
	addr, nyc, m := servingMux(t, ams.serveForward)
	c, err := dialNode(nyc, "ams", delayProxy(t, addr, 20*time.Millisecond), streamForward, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := writeFrame(c, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := readFrame(c); err != nil { // the stream is served and kept
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { m.close(); close(stopped) }()
	time.Sleep(5 * time.Millisecond) // the leader's goodbye is on its way, not here yet
	if err := writeFrame(c, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	body, err := readFrame(c)
	if err != nil {
		t.Fatalf("a write sent as the leader stopped: no answer (%v), so its outcome is unknown", err)
	}
	if !strings.Contains(string(body), `"closing":true`) && !strings.Contains(string(body), `"not_leader":true`) {
		t.Fatalf("a write sent as the leader stopped: %s, want closing (or, read in time, not_leader)", body)
	}
	c.Close()
	waitFor(t, stopped, "the leader stopping")
}

// "closing" sends the write to the next leader, as "not the leader" does.
func TestClosingAnswerIsTryAgain(t *testing.T) {
	if _, err := (answer{Closing: true}).result("ams"); !errors.Is(err, errTryAgain) {
		t.Fatalf("closing: %v, want errTryAgain", err)
	}
}
