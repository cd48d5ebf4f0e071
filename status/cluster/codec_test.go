package cluster

import (
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/store"
)

// gateOpens waits, well within codecAsk of since (when the last member
// started), until m's codec gate stands at the newest codec.
func gateOpens(t *testing.T, what string, since time.Time, m *member) {
	t.Helper()
	limit := codecAsk * 6 / 10
	for int(m.node.codecOK.Load()) < store.CodecVersion {
		if time.Since(since) > limit {
			t.Fatalf("%s: %s's codec gate at %d %v after the last start, want %d well before codecAsk (%v)",
				what, m.id, m.node.codecOK.Load(), limit, store.CodecVersion, codecAsk)
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
