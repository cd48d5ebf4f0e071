package cluster

import (
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/outpost-status/outpost/status/store"
)

// Read-your-writes, and only where it is read. A follower learns that an
// entry committed from the leader's next message, which raft sends when
// there is news or, to an idle follower, after commit_timeout: waiting
// for its own apply made every forwarded write wait up to that long, so
// commit_timeout had to stay short, and an idle-ish leader paid for
// dozens of messages a second. Now a write whose caller reads it back
// (an admin's command, a setting, a subscriber) still returns once this
// member applied it, and the leader tells the followers at once that it
// committed (tellCommit); a monitor's results, which nothing here reads
// back, return once the leader made them. A step that is news for the
// followers (news) is told at once too, whoever wrote it.

// readsBack tells whether e's writer reads it back from this member's
// file once Apply returns. A monitor's inputs without commands are not:
// its page and re-checks move when this member's FSM applies the entry,
// as for any other writer's (machine.Applied). Every other entry is, to
// be safe with parts added later. The leader asks it of the entry it
// decoded, so what decoding and applying set is not a part.
func readsBack(e store.Entry) bool {
	if e.Inputs == nil || len(e.Inputs.Commands) > 0 {
		return true
	}
	rest := e
	rest.At, rest.Inputs, rest.Index, rest.Term, rest.Codec, rest.Step = time.Time{}, nil, 0, 0, 0, nil
	return !reflect.ValueOf(rest).IsZero()
}

// news tells whether the followers should hear at once that the step res
// is from committed: it asked for re-checks (a first failure's
// confirmation round at the other locations) or changed what the page
// shows. A step that only moved freshness (most of them) waits for
// commit_timeout.
func news(res store.Result) bool {
	return res.Changes != nil && (len(res.Changes.Rechecks) > 0 || res.Changes.Visible)
}

// tellCommit makes the leader send every follower what committed now,
// not after commit_timeout: a barrier is a log entry of raft's own (no
// FSM applies it), and each new entry is replicated at once with the
// leader's commit index. Nobody waits for the barrier itself.
func (n *Node) tellCommit() {
	n.r.Barrier(n.apply)
}

// owedWrites are this member's writes that it did not wait for
// (readsBack false) and had not applied when the leader answered, oldest
// first (their indexes increase).
type owedWrites struct {
	mu     sync.Mutex
	writes []owedWrite
}

// owedWrite is one write owed since the leader answered it. Past
// maxOwed, the newest one stands for every write after it too.
type owedWrite struct {
	index uint64
	since time.Time
}

// maxOwed bounds the writes owed in memory. A monitor writes about once
// a second and the wait is seconds, so a member a minute behind owes
// about sixty. Past it, the newest write kept takes the new write's index
// and keeps its own time: the oldest writes, which decide, are kept, and
// the member is not found level before it applied every write it owes;
// a mark may outlast the truth by the time the writes merged span.
const maxOwed = 64

// owe notes that the leader made this member's write at index without
// waiting for this member's apply, and tells whether this member is
// behind the cluster: behind while a write owed for longer than wait is
// still not applied (as appliedHere does for a write it waits for), level
// again once none is. Only the time of the oldest one left counts: a
// member steadily further behind than wait stays behind, its mark not
// cleared by each apply of the write it owed. A writer of results writes
// at least every few seconds, so the mark follows within one.
func (n *Node) owe(index uint64, wait time.Duration) {
	got, _ := n.applied.at()
	o := &n.owed
	o.mu.Lock()
	defer o.mu.Unlock()
	o.settle(got)
	if index > got {
		o.add(index, time.Now())
	}
	if len(o.writes) == 0 || time.Since(o.writes[0].since) <= wait {
		n.behind.Store(0)
		return
	}
	// A stalled member applies nothing until its config matches, and says
	// so itself.
	if n.mach.Stalled() != "" {
		return
	}
	oldest := o.writes[0]
	n.mark(oldest.since.Add(wait), oldest.index)
}

// mark marks this member behind the cluster since since, for its write
// at index, unless it is already, and wakes keepLevel.
func (n *Node) mark(since time.Time, index uint64) {
	if !n.behind.CompareAndSwap(0, since.UnixNano()) {
		return
	}
	n.log.Warn("a forwarded write is not applied here yet: this member is behind the cluster", slog.Uint64("index", index))
	select {
	case n.marked <- struct{}{}:
	default: // keepLevel is woken already
	}
}

// keepLevel clears the mark once this member applied every write it
// owes, whoever writes next. owe and appliedHere clear it only at this
// member's next forwarded write: a member made leader forwards none (its
// own writes apply here before they answer), so it kept the mark of its
// time as a follower, and the page's notice and readiness with it, for
// as long as it led. It waits on applies only while marked; until every
// owed write is applied the mark stays, leader or not.
func (n *Node) keepLevel(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-n.marked:
		}
		for {
			got, moved := n.applied.at()
			if n.paidUp(got) {
				break
			}
			select {
			case <-done:
				return
			case <-moved:
			}
		}
	}
}

// paidUp settles the writes owed up to got, and clears the mark when none
// is left: this member's file holds every write of its own that the
// leader made.
func (n *Node) paidUp(got uint64) bool {
	o := &n.owed
	o.mu.Lock()
	defer o.mu.Unlock()
	o.settle(got)
	if len(o.writes) > 0 {
		return false
	}
	n.behind.Store(0)
	return true
}

// settle drops the writes applied up to got (the log applies in order).
func (o *owedWrites) settle(got uint64) {
	i := 0
	for i < len(o.writes) && o.writes[i].index <= got {
		i++
	}
	// Copied down rather than resliced, so the array is reused and stays
	// maxOwed long.
	o.writes = o.writes[:copy(o.writes, o.writes[i:])]
}

// oweReadBack owes a read-back write whose wait ended before this member
// applied it (appliedHere), as owe does a write not waited for, and marks
// this member behind, unless the write was applied meanwhile: under the
// owed writes' lock, as owe marks, so keepLevel cannot settle the write
// between the two and leave a mark (and its warning) for nothing.
func (n *Node) oweReadBack(index uint64, since time.Time) {
	got, _ := n.applied.at()
	o := &n.owed
	o.mu.Lock()
	defer o.mu.Unlock()
	if index <= got {
		return
	}
	o.add(index, since)
	n.mark(time.Now(), index)
}

// add owes the write at index from since, in its place by index (a
// read-back write whose wait ended comes after the writes owed since).
// Past maxOwed the newest slot stands for every write after it: it takes
// the newest index and keeps its own time.
func (o *owedWrites) add(index uint64, since time.Time) {
	i := slices.IndexFunc(o.writes, func(w owedWrite) bool { return w.index > index })
	if i < 0 {
		i = len(o.writes)
	}
	o.writes = slices.Insert(o.writes, i, owedWrite{index, since})
	if n := len(o.writes); n > maxOwed {
		o.writes[n-2].index = max(o.writes[n-2].index, o.writes[n-1].index)
		o.writes = o.writes[:n-1]
	}
}
