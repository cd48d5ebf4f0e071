package cluster

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/outpost-status/outpost/status/store"
)

// A rolling upgrade replaces members one at a time, so for a while old
// and new Outposts apply the same log. An entry is stamped with the codec
// version its parts need, not the newest this build knows, and the
// leader writes an entry that needs a version newer than every Outpost
// reads (store.MinCodecVersion) only once every member reports, in its
// account (View.Codec), that it knows that version: an older member would
// refuse the entry and halt.

// ErrCodecNotReady: an entry needs a codec version some member does not
// report (yet): it was not written. Upgrade every member first.
var ErrCodecNotReady = errors.New("not every member knows the codec version this entry needs: upgrade them all first")

// entryCodec is the codec version e needs: the oldest whose readers know
// every part it carries. Every part there is today is version 2's (a
// part added later names its version here).
func entryCodec(store.Entry) int { return store.MinCodecVersion }

// stampCodec is the version e is stamped with: what it needs, or for
// inputs the newest codec every member has reported reading from the
// compact state's (store.CompactStateCodec, which also makes results
// binary) on, else for results the open roll-ups' (store.OpenRollupCodec)
// once every member reads that. Inputs are never held back for either: an
// older entry is applied the old way, on every member alike.
func (n *Node) stampCodec(e store.Entry) int {
	need, ok := entryCodec(e), min(n.codecOK.open(), store.CodecVersion)
	switch {
	case e.Inputs == nil:
		return need
	case ok >= store.CompactStateCodec:
		return max(need, ok)
	case len(e.Inputs.Results) > 0 && ok >= store.OpenRollupCodec:
		return max(need, store.OpenRollupCodec)
	}
	return need
}

// encode encodes e in its version (stampCodec), after the gate when the
// version it needs is newer than every Outpost reads.
func (n *Node) encode(e store.Entry) ([]byte, error) {
	if need := entryCodec(e); need > store.MinCodecVersion {
		if err := n.CodecReady(need, 3*time.Second); err != nil {
			return nil, err
		}
	}
	return store.EncodeEntryAt(e, n.stampCodec(e))
}

// codecAsk is how often a member whose gate is not open for its newest
// codec asks the others' accounts again once a member has said no a while
// (stampCodec reads the answer).
const codecAsk = 10 * time.Second

// codecRetry is how soon a member whose gate is shut asks again: while a
// member did not answer (it is starting too, and may answer the next
// time), and at first after a no (each no then doubles it, up to
// codecAsk: an older member says yes only once it is upgraded). A member
// silent for codecPatience asks in turn: each ask dials every member, and
// each refusing one logs it (a removed member left running). An open gate
// is looked at as often (SetNodes shuts it).
const (
	codecRetry    = time.Second
	codecPatience = 10 // asks a second apart while a member does not answer
)

// keepCodec opens the gate for this Outpost's codec once every member
// reports it (a rolling upgrade's last member started), until the node
// closes. It asks at once: until the first answer the gate stands at 0
// and this member writes its results (and, leading, re-encodes forwarded
// entries) in the oldest codec. SetNodes shuts the gate again when
// cluster.nodes changes.
func (n *Node) keepCodec(done <-chan struct{}) {
	wait := time.NewTimer(0)
	defer wait.Stop()
	next, silent := time.Duration(0), 0
	for {
		select {
		case <-done:
			return
		case <-wait.C:
		}
		answered, err := true, error(nil)
		if n.codecOK.open() < store.CodecVersion {
			answered, err = n.askCodec(store.CodecVersion, 2*time.Second)
		}
		next, silent = codecNext(next, silent, answered, err)
		wait.Reset(next)
	}
}

// codecNext is the wait before keepCodec's next look, and how many asks in
// a row a member has not answered, after an ask (or a look at an open
// gate: answered, nil) that came to answered and err.
func codecNext(last time.Duration, silent int, answered bool, err error) (time.Duration, int) {
	switch {
	case err == nil: // a yes, or the gate open
		return codecRetry, 0
	case answered: // a no: an older member says yes once upgraded
		return min(max(2*last, codecRetry), codecAsk), 0
	case silent+1 < codecPatience: // starting, or down for a moment
		return codecRetry, silent + 1
	default: // gone a while: asked every codecAsk
		return codecAsk, silent + 1
	}
}

// CodecReady is the gate a leader asks before it writes an entry of
// codec version v: nil once every member of cluster.nodes has reported
// (in its account, asked within timeout) a codec of at least v; else an
// ErrCodecNotReady naming those behind or not answering. What every
// member answered is kept, a no too: the gate then stands at the oldest
// codec reported (a rolling upgrade's results go in the newest codec all
// read, not back to the oldest this Outpost reads), until cluster.nodes
// changes (a new member may run an older Outpost).
func (n *Node) CodecReady(v int, timeout time.Duration) error {
	if v <= n.codecOK.open() {
		return nil
	}
	_, err := n.askCodec(v, timeout)
	return err
}

// askCodec asks every member's account for CodecReady, and says whether
// every member answered. The gate's generation is read before the members
// are: an answer of the members SetNodes replaced meanwhile is not kept.
func (n *Node) askCodec(v int, timeout time.Duration) (answered bool, err error) {
	gen, _ := n.codecOK.load()
	var behind []string
	low := store.CodecVersion
	answered = true
	for _, m := range n.Status(timeout).Nodes {
		switch {
		case m.State == "unreachable":
			behind, answered = append(behind, m.Node+" (did not answer)"), false
		case m.Codec < v:
			behind = append(behind, fmt.Sprintf("%s (codec %d)", m.Node, m.Codec))
		}
		low = min(low, m.Codec)
	}
	if answered && !n.codecOK.raise(gen, low) {
		return false, fmt.Errorf("%w: cluster.nodes changed while they were asked", ErrCodecNotReady)
	}
	if len(behind) > 0 {
		return answered, fmt.Errorf("%w: codec %d needed; %s", ErrCodecNotReady, v, strings.Join(behind, ", "))
	}
	return answered, nil
}

// codecGate is the highest codec every member of cluster.nodes reported
// (0: not asked yet) and the generation of the list it was asked of, in
// one word: SetNodes shuts the gate and moves the generation on, so an
// ask of the old members that ends after it keeps nothing (a new member
// may run an older Outpost).
type codecGate struct{ w atomic.Uint64 }

// codecBits holds the codec in the word's low bits, the generation above.
const codecBits = 8

func (g *codecGate) load() (gen uint64, v int) {
	w := g.w.Load()
	return w >> codecBits, int(w & (1<<codecBits - 1))
}

// open is the newest codec every member reported.
func (g *codecGate) open() int {
	_, v := g.load()
	return v
}

// raise opens the gate to v (it never lowers it) if it is still of
// generation gen; false when the generation moved on. v must fit in
// codecBits (askCodec's is at most store.CodecVersion).
func (g *codecGate) raise(gen uint64, v int) bool {
	for {
		w := g.w.Load()
		if w>>codecBits != gen {
			return false
		}
		if v <= int(w&(1<<codecBits-1)) {
			return true
		}
		if g.w.CompareAndSwap(w, gen<<codecBits|uint64(v)) {
			return true
		}
	}
}

// shut closes the gate and moves its generation on.
func (g *codecGate) shut() {
	for {
		w := g.w.Load()
		if g.w.CompareAndSwap(w, (w>>codecBits+1)<<codecBits) {
			return
		}
	}
}
