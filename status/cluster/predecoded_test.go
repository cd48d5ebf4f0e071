package cluster

import (
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/store"
)

// The leader decodes a forwarded entry before it appends it (nothing
// undecodable reaches the log) and its FSM applies that decoded entry
// rather than decoding the same bytes again: one decode per forwarded
// write on the leader, where there were two (the soak's leader profile:
// 0.11 s in serveForward's decode and as much again in apply). Every
// member still ends with the same state.
func TestLeaderDecodesAForwardedEntryOnce(t *testing.T) {
	ms, leader := startThree(t)
	var follower *member
	for _, m := range ms {
		if m != leader {
			follower = m
			break
		}
	}
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	const writes = 5
	for i := range writes {
		if _, err := follower.node.Apply(results(at.Add(time.Duration(i)*time.Second), follower.id, probes.Up)); err != nil {
			t.Fatal(err)
		}
	}
	if got := leader.node.pre.used.Load(); got != writes {
		t.Errorf("the leader applied %d of %d forwarded entries as it decoded them before appending, want all", got, writes)
	}
	if n := leader.node.pre.held(); n != 0 {
		t.Errorf("%d decoded entries still held after their apply", n)
	}
	applied, _ := leader.st.AppliedIndex()
	eventually(t, "every member applying the writes", func() bool {
		for _, m := range ms {
			if i, _ := m.st.AppliedIndex(); i < applied {
				return false
			}
		}
		return true
	})
	want := contents(t, leader.st)
	for _, m := range ms {
		if diff := sameContents(want, contents(t, m.st)); diff != "" {
			t.Errorf("%s's replicated file differs from the leader's: %s", m.id, diff)
		}
	}
}

// A forwarded entry the leader cannot decode (a field it does not know,
// a codec it does not read, no JSON) is refused before it is appended:
// no member could apply it, and the log stays as it was.
func TestLeaderRefusesAnUndecodableForwardedEntry(t *testing.T) {
	leader, _ := leaderAndFollower(t)
	good, err := store.EncodeEntry(results(time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC), "x", probes.Up))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"unknown field", `unknown field "inputs.bogus"`, append([]byte{store.CodecVersion}, strings.Replace(string(good[1:]), `"inputs":{`, `"inputs":{"bogus":1,`, 1)...)},
		{"unknown codec", "unknown codec version", append([]byte{store.CodecVersion + 1}, good[1:]...)},
		{"no JSON", "not a JSON object", []byte{store.CodecVersion, 'x'}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := leader.node.r.LastIndex()
			a := leader.node.answerForward(tc.data)
			if !strings.Contains(a.Error, tc.want) || a.Result != nil {
				t.Errorf("answer %+v, want the error %q", a, tc.want)
			}
			if after := leader.node.r.LastIndex(); after != before {
				t.Errorf("the log moved from %d to %d", before, after)
			}
			if n := leader.node.pre.held(); n != 0 {
				t.Errorf("%d decoded entries held", n)
			}
		})
	}
}

// BenchmarkForwardedDecode is what the leader no longer pays per
// forwarded write (its second decode, in apply): a monitor's entry of a
// second's results at the soak's shape (3,000 checks at 30 s: 100).
//
//	go test ./status/cluster -run '^$' -bench ForwardedDecode -benchmem
func BenchmarkForwardedDecode(b *testing.B) {
	data, err := store.EncodeEntry(batchOf(1, 0, 100, "nyc"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := store.DecodeEntry(data); err != nil {
			b.Fatal(err)
		}
	}
}
