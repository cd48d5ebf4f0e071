package cluster

import (
	"sync"
	"sync/atomic"

	"github.com/outpost-status/outpost/status/store"
)

// predecoded holds the forwarded entries the leader decoded before it
// appended them, until its FSM applies them: the apply takes the decoded
// entry instead of decoding the same bytes again (a leader decoded each
// forwarded entry twice; followers decode it once, in apply). An entry is
// known by its data's first byte: raft hands the leader's FSM the very
// slice the leader appended (raft.Log.Data, from its in-flight list or its
// log cache), and the same bytes decode to the same entry, so the leader
// applies what every follower decodes. An entry not applied while its
// forwarded write waits (an error, a lost leadership) is dropped then, and
// decoded as any other if it commits later: at most maxForwards are held.
type predecoded struct {
	mu      sync.Mutex
	entries map[*byte]*store.Entry
	// used counts the entries an apply took (tests read it).
	used atomic.Int64
}

func newPredecoded() *predecoded {
	return &predecoded{entries: map[*byte]*store.Entry{}}
}

// put holds e, decoded from data, for data's apply. A nil p (an FSM
// built without one) holds nothing: every entry is decoded in apply.
func (p *predecoded) put(data []byte, e *store.Entry) {
	if p == nil || len(data) == 0 {
		return
	}
	p.mu.Lock()
	p.entries[&data[0]] = e
	p.mu.Unlock()
}

// take returns the entry decoded from data and forgets it; nil when none
// is held (a follower's apply, an entry of this leader's own, a replay).
func (p *predecoded) take(data []byte) *store.Entry {
	if p == nil || len(data) == 0 {
		return nil
	}
	p.mu.Lock()
	e, ok := p.entries[&data[0]]
	delete(p.entries, &data[0])
	p.mu.Unlock()
	if ok {
		p.used.Add(1)
	}
	return e
}

// drop forgets the entry decoded from data, whether or not it applied.
func (p *predecoded) drop(data []byte) {
	if p == nil || len(data) == 0 {
		return
	}
	p.mu.Lock()
	delete(p.entries, &data[0])
	p.mu.Unlock()
}

// held is how many decoded entries wait for their apply.
func (p *predecoded) held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.entries)
}
