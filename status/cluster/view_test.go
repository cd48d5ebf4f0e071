package cluster

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/config"
)

// A member's listener serves before raft.NewRaft returns, and the members
// of a cluster started together ask each other for their views at that
// moment (to decide whether to bootstrap): a member whose raft has not
// started yet answers a view ("starting", nothing held) and a forwarded
// write (not the leader) instead of crashing on its raft.
func TestMemberNotYetStartedAnswers(t *testing.T) {
	cfg := &config.Config{Cluster: &config.Cluster{Node: "ams", Nodes: []config.ClusterNode{{ID: "ams", Address: "127.0.0.1:7946", Location: "eu-west"}}}}
	n := &Node{id: "ams", cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil)), done: make(chan struct{})}
	for _, tc := range []struct {
		name  string
		serve func(net.Conn)
		send  []byte
		check func(t *testing.T, body []byte)
	}{
		{"view", n.serveView, nil, func(t *testing.T, body []byte) {
			var v View
			if err := json.Unmarshal(body, &v); err != nil || v.Node != "ams" || v.State != "starting" || v.LastIndex != 0 {
				t.Fatalf("view of a member starting: %s (%v), want node ams, state starting, last index 0", body, err)
			}
		}},
		{"forward", func(c net.Conn) { n.serveForward(c, nil) }, []byte(`{}`), func(t *testing.T, body []byte) {
			var a answer
			if err := json.Unmarshal(body, &a); err != nil || !a.NotLeader {
				t.Fatalf("forwarded write to a member starting: %s (%v), want not_leader", body, err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			go tc.serve(server)
			client.SetDeadline(time.Now().Add(5 * time.Second))
			if tc.send != nil {
				if err := writeFrame(client, tc.send); err != nil {
					t.Fatal(err)
				}
			}
			body, err := readFrame(client)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			tc.check(t, body)
		})
	}
}
