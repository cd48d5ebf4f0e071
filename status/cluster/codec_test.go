package cluster

import (
	"encoding/json"
	"log/slog"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
)

// gateOpens waits, well within codecAsk of since (when the last member
// started), until m's codec gate stands at the newest codec.
func gateOpens(t *testing.T, what string, since time.Time, m *member) {
	t.Helper()
	limit := codecAsk * 6 / 10
	for m.node.codecOK.open() < store.CodecVersion {
		if time.Since(since) > limit {
			t.Fatalf("%s: %s's codec gate at %d %v after the last start, want %d well before codecAsk (%v)",
				what, m.id, m.node.codecOK.open(), limit, store.CodecVersion, codecAsk)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%s: %s's codec gate open %v after the last start", what, m.id, time.Since(since).Round(time.Millisecond))
}

// A member asks the others' codecs as it starts (and soon again while
// not all answer), not a whole codecAsk later: until then its gate stood
// at 0, and it wrote its results, and as the leader re-encoded forwarded
// entries, in codec 2.
func TestCodecGateOpensSoonAfterStart(t *testing.T) {
	ms := threeNodes(t)
	for _, m := range ms {
		m.start(t, 0)
	}
	// No gate opens before every member answers: the last one started.
	up := time.Now()
	for _, m := range ms {
		gateOpens(t, "a fresh cluster", up, m)
	}
	leader := leaderOf(t, ms)
	leader.stop()
	start := time.Now()
	leader.start(t, 0)
	gateOpens(t, "a restarted leader", start, leader)
	e := results(time.Now(), leader.id, probes.Up)
	data, err := leader.node.encode(e)
	if err != nil {
		t.Fatal(err)
	}
	if data[0] != store.CodecVersion {
		t.Errorf("the restarted leader's first results stamped %d, want %d", data[0], store.CodecVersion)
	}
	if _, err := leader.node.Apply(e); err != nil {
		t.Fatal(err)
	}
}

// heldPeer serves m's node connection as a peer that reports the newest
// codec, and while hold is set answers an account only once release
// closes (each ask is told on asked): an ask of the members held in
// flight while the test changes them.
func heldPeer(t *testing.T, m *member, hold *atomic.Bool, asked chan<- struct{}, release <-chan struct{}) {
	t.Helper()
	tcfg, err := tlsConfig(m.cfg, m.id, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	answer := func(c net.Conn) {
		defer c.Close()
		if hold.Load() {
			select {
			case asked <- struct{}{}:
			default:
			}
			<-release
		}
		body, _ := json.Marshal(View{Node: m.id, Address: m.address(), State: "Follower", Codec: store.CodecVersion})
		_ = writeFrame(c, body)
	}
	mx := newMux(m.ln, tcfg, slog.New(slog.DiscardHandler), func(c net.Conn, _ <-chan struct{}) { c.Close() }, answer, answerBusy)
	t.Cleanup(mx.close)
	go func() { // raft's streams to it: refused
		for {
			select {
			case c := <-mx.raft:
				c.Close()
			case <-mx.done:
				return
			}
		}
	}()
}

// An ask of the codec gate in flight when a reload changes cluster.nodes
// asked the old members: what they answer is not kept past SetNodes's
// shutting of the gate, or a new member on an older Outpost would be
// written entries it cannot read until the next change of members.
func TestCodecAnswerOfOldNodesIsNotKept(t *testing.T) {
	ms := threeNodes(t)
	var hold atomic.Bool
	asked, release := make(chan struct{}, 1), make(chan struct{})
	heldPeer(t, ms[2], &hold, asked, release)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	ms = ms[:2]
	for _, m := range ms {
		m.start(t, 0)
	}
	leader := leaderOf(t, ms)
	f := ms[0]
	if f == leader {
		f = ms[1]
	}
	eventually(t, f.id+"'s codec gate", func() bool { return f.node.codecOK.open() == store.CodecVersion })
	hold.Store(true)
	f.node.codecOK.shut() // as SetNodes shuts it: the next ask is held at sgp
	got := make(chan error, 1)
	go func() { got <- f.node.CodecReady(store.CodecVersion, 20*time.Second) }()
	select {
	case <-asked:
	case <-time.After(10 * time.Second):
		t.Fatal("sgp was not asked for its account within 10 s")
	}
	// The reload adds lon, an Outpost that does not answer yet (it may
	// run an older codec): the gate must stay shut until it does.
	nodes := append(slices.Clone(f.cfg.Cluster.Nodes), config.ClusterNode{ID: "lon", Address: "127.0.0.1:1", Location: "loc-3"})
	f.node.SetNodes(nodes)
	close(release)
	select {
	case err := <-got:
		if err == nil {
			t.Errorf("the gate asked of the old members said yes after cluster.nodes changed, want ErrCodecNotReady")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the held ask did not end within 20 s")
	}
	if v := f.node.codecOK.open(); v != 0 {
		t.Errorf("%s's codec gate at %d after an ask of the old cluster.nodes ended past SetNodes, want 0 until lon answers", f.id, v)
	}
}

// A shut gate asks again a second later while a member is silent (it is
// starting too), but a member silent for codecPatience asks in turn every
// codecAsk: each ask dials every member, and a member that refuses the
// asker's certificate logs each one. A no backs off doubling; a yes or an
// open gate is looked at every second.
func TestCodecAsksBackOff(t *testing.T) {
	no := ErrCodecNotReady
	type ask struct {
		answered bool
		err      error
	}
	for _, tc := range []struct {
		name string
		asks []ask
		want []int // seconds
	}{
		{"a yes at once", []ask{{true, nil}}, []int{1}},
		{"noes double up to codecAsk", []ask{{true, no}, {true, no}, {true, no}, {true, no}, {true, no}, {true, no}},
			[]int{1, 2, 4, 8, 10, 10}},
		{"a silent member: ten asks a second apart, then every codecAsk",
			slices.Repeat([]ask{{false, no}}, 12), []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 10, 10, 10}},
		{"an answer ends the silence", []ask{{false, no}, {false, no}, {true, nil}, {false, no}},
			[]int{1, 1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, silent := time.Duration(0), 0
			var got []int
			for _, a := range tc.asks {
				next, silent = codecNext(next, silent, a.answered, a.err)
				got = append(got, int(next/time.Second))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("waits (s) %v, want %v", got, tc.want)
			}
		})
	}
}
