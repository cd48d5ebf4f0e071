package cluster

import (
	"log/slog"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/raft"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/machine"
	"github.com/outpost-status/outpost/status/store"
)

// A follower's monitor never reads back the results it forwards (its
// page moves when its own FSM applies them, whoever wrote them), so their
// write returns once the leader made it; a write its caller reads back
// (a setting, an admin's command, a subscriber) is in the follower's file
// when it returns, and it does not wait for raft's commit_timeout to
// learn the commit: the leader tells it at once. commit_timeout is set
// far above the deadline, so a write that waited for it fails.
func TestForwardedWritesWaitOnlyForWhatIsReadBack(t *testing.T) {
	const within = 2 * time.Second
	_, followers := slowCommitTimeout(t)
	follower := followers[0]
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	for i, tc := range []struct {
		name     string
		e        store.Entry
		readBack bool
	}{
		{"results", results(now, follower.id, probes.Up), false},
		{"a setting", store.Entry{At: now, Settings: []store.Setting{{Key: "k", Value: "v"}}}, true},
		{"results again", results(now.Add(time.Second), follower.id, probes.Up), false},
	} {
		start := time.Now()
		if _, err := follower.node.Apply(tc.e); err != nil {
			t.Fatalf("%s through a follower: %v", tc.name, err)
		}
		if took := time.Since(start); took >= within {
			t.Errorf("%s through a follower returned after %v, want within %v (commit_timeout %v)", tc.name, took.Round(time.Millisecond), within, slowCommit)
		}
		if !tc.readBack {
			continue
		}
		if v, err := follower.st.Setting("k"); v != "v" {
			t.Errorf("%s (write %d): the follower reads %q (%v) right after its answer", tc.name, i, v, err)
		}
	}
	if since := follower.node.BehindSince(); !since.IsZero() {
		t.Errorf("the follower is marked behind since %v", since)
	}
}

// slowCommit is a commit_timeout far above what the tests below allow: a
// follower that learns a commit only from it fails them.
const slowCommit = 8 * time.Second

// slowCommitTimeout starts three members with commit_timeout slowCommit
// and returns the leader and the followers once one leads.
func slowCommitTimeout(t *testing.T) (leader *member, followers []*member) {
	t.Helper()
	ms := threeNodes(t)
	for _, m := range ms {
		m.cfg.Cluster.CommitTimeout = slowCommit
		m.start(t, 0)
	}
	eventually(t, "leader", func() bool {
		for _, m := range ms {
			if m.node.IsLeader() {
				leader = m
			}
		}
		return leader != nil
	})
	for _, m := range ms {
		if m != leader {
			followers = append(followers, m)
		}
	}
	return leader, followers
}

// A step that asks the other locations for a confirmation run (a first
// failure), or changes what the page shows, is news the followers hear at
// once, not after commit_timeout: their runs start, and their pages move,
// as soon as it committed, whoever wrote it.
func TestNewsReachesTheFollowersAtOnce(t *testing.T) {
	const within = 2 * time.Second
	leader, followers := slowCommitTimeout(t)
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	// Past raft's first replication round after the election, which
	// tells the followers what committed by itself.
	if _, err := followers[1].node.Apply(store.Entry{At: now, Settings: []store.Setting{{Key: "k", Value: "v"}}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		writer *member
		e      store.Entry
	}{
		{"a first failure through a follower", followers[0], results(now, followers[0].id, probes.Down)},
		{"a failure on the leader", leader, results(now.Add(time.Second), leader.id, probes.Down)},
	} {
		res, err := tc.writer.node.Apply(tc.e)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if ch := res.Changes; ch == nil || (len(ch.Rechecks) == 0 && !ch.Visible) {
			t.Fatalf("%s: the step asked nothing and showed nothing new (%+v): no news to test", tc.name, ch)
		}
		want, _ := leader.node.applied.at()
		start := time.Now()
		for _, f := range followers {
			for got, moved := f.node.applied.at(); got < want; got, moved = f.node.applied.at() {
				select {
				case <-moved:
				case <-time.After(within - time.Since(start)):
					t.Fatalf("%s: %s applied %d of %d after %v (commit_timeout %v)", tc.name, f.id, got, want, within, slowCommit)
				}
			}
		}
	}
}

// Where the config is silent, commit_timeout is Outpost's default, not
// raft's 50 ms: an idle-ish leader tells its followers what committed a
// few times a second (a write read back is told at once, above); a value
// set is kept.
func TestCommitTimeoutDefault(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  time.Duration
		want time.Duration
	}{
		{"silent", 0, 250 * time.Millisecond},
		{"set", 50 * time.Millisecond, 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := raft.DefaultConfig()
			raftTiming(rc, &config.Cluster{CommitTimeout: tc.set})
			if rc.CommitTimeout != tc.want {
				t.Errorf("commit_timeout %v, want %v", rc.CommitTimeout, tc.want)
			}
		})
	}
}

// A member whose applier stopped (its disk full, its store halted) is
// still found behind when its writes are results it does not wait for:
// a write owed longer than the wait marks it, at the next write; the mark
// clears once no write owed longer than the wait is left unapplied.
// Time is synctest's.
func TestResultsNotWaitedForStillFindAMemberBehind(t *testing.T) {
	mach := standaloneMachine(t)
	synctest.Test(t, func(t *testing.T) {
		const wait = 10 * time.Second
		n := standaloneNode(mach, 5)
		start := time.Now()
		for i, step := range []struct {
			applied    uint64 // the mark before the write (0: unchanged)
			index      uint64 // the write's
			after      time.Duration
			wantBehind bool
		}{
			{0, 6, 0, false},                  // applied since: 5
			{0, 7, 5 * time.Second, false},    // 6 owed for 5 s
			{0, 8, 11 * time.Second, true},    // 6 owed for 11 s
			{0, 9, 30 * time.Second, true},    // still behind
			{7, 10, 31 * time.Second, true},   // 6, 7 applied: 8 owed for 20 s
			{9, 11, 35 * time.Second, false},  // 8, 9 applied: 10 owed for 4 s, none past the wait
			{11, 12, 50 * time.Second, false}, // nothing owed: 12 is, from 50 s
			{0, 13, 61 * time.Second, true},   // 12 owed for 11 s
		} {
			time.Sleep(time.Until(start.Add(step.after)))
			if step.applied > 0 {
				n.applied.advance(step.applied)
			}
			n.owe(step.index, wait)
			if behind := !n.BehindSince().IsZero(); behind != step.wantBehind {
				t.Errorf("write %d (index %d, %v in): behind %v, want %v", i, step.index, step.after, behind, step.wantBehind)
			}
		}
	})
}

// Only a monitor's inputs without commands are not read back by their
// writer; anything else in the entry, or a command, is.
func TestWhatIsReadBack(t *testing.T) {
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	withCommand := results(now, "nyc", probes.Up)
	withCommand.Inputs.Commands = []status.Command{{}}
	withAnnounce := results(now, "nyc", probes.Up)
	withAnnounce.Announce = []store.Announcement{{}}
	data, err := store.EncodeEntry(results(now, "nyc", probes.Up))
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := store.DecodeEntry(data) // as the leader asks it
	if err != nil {
		t.Fatal(err)
	}
	decoded.Index, decoded.Term = 7, 2
	for _, tc := range []struct {
		name string
		e    store.Entry
		want bool
	}{
		{"results", results(now, "nyc", probes.Up), false},
		{"results as the leader decoded them", decoded, false},
		{"a step without results", store.Entry{At: now, Inputs: &store.Inputs{Writer: "nyc", Seq: 3}}, false},
		{"results and a command", withCommand, true},
		{"results and an announcement", withAnnounce, true},
		{"a setting", store.Entry{At: now, Settings: []store.Setting{{Key: "k"}}}, true},
		{"a prune", store.Entry{At: now, Prune: &store.Prune{}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := readsBack(tc.e); got != tc.want {
				t.Errorf("readsBack %v, want %v", got, tc.want)
			}
		})
	}
}

// A member whose applier runs steadily 15 s behind the leader (a slow
// disk), writing results every second, stays behind the cluster by more
// than the wait all along: every one of its writes reaches its file 15 s
// after the leader made it. It is found behind once and must stay so.
func TestSteadilyLaggingMemberStaysBehind(t *testing.T) {
	mach := standaloneMachine(t)
	synctest.Test(t, func(t *testing.T) {
		const wait, lag = 10 * time.Second, 15 * time.Second
		n := standaloneNode(mach, 0)
		start := time.Now()
		var notBehind []int
		for i := 1; i <= 60; i++ { // write i at i s; applied: what was written lag ago
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second)))
			if done := i - int(lag/time.Second); done > 0 {
				n.applied.advance(uint64(done))
			}
			n.owe(uint64(i), wait)
			if i > 12 && n.BehindSince().IsZero() {
				notBehind = append(notBehind, i)
			}
		}
		if len(notBehind) > 0 {
			t.Errorf("a member 15 s behind (wait %v) is not marked behind at %d of its 48 writes after the first 12 s: %v", wait, len(notBehind), notBehind)
		}
	})
}

// A member that applies nothing for long (its disk full) while its
// monitor writes every second owes at most maxOwed writes' worth of
// memory, and the bound forgets none of what decides: once it applies
// the oldest writes it kept, the ones past the bound are still owed, and
// it stays behind until it applied them too.
func TestOwedWritesAreBounded(t *testing.T) {
	mach := standaloneMachine(t)
	synctest.Test(t, func(t *testing.T) {
		const wait, writes = 10 * time.Second, 4 * maxOwed
		n := standaloneNode(mach, 0)
		for i := uint64(1); i <= writes; i++ {
			time.Sleep(time.Second)
			n.owe(i, wait)
		}
		if got := len(n.owed.writes); got > maxOwed {
			t.Errorf("%d writes owed in memory, want at most %d", got, maxOwed)
		}
		index := uint64(writes)
		for _, step := range []struct {
			applied    uint64 // 0: every write made so far
			wantBehind bool
		}{
			{maxOwed, true},     // the kept ones applied; those past the bound are minutes old
			{writes - 20, true}, // the last 20 are owed, the oldest for 20 s
			{0, false},          // every write applied: only the new one is owed
		} {
			time.Sleep(time.Second)
			if step.applied == 0 {
				step.applied = index
			}
			n.applied.advance(step.applied)
			index++
			n.owe(index, wait)
			if behind := !n.BehindSince().IsZero(); behind != step.wantBehind {
				t.Errorf("applied to %d of %d: behind %v, want %v", step.applied, index, behind, step.wantBehind)
			}
		}
	})
}

// A member whose applier halted just before an admin's write (read back,
// appliedHere) is found behind when that wait ends; its monitor's results
// written after it are owed for less than the wait then, and the next one
// must not clear the mark while the admin's write is still not applied.
func TestOweKeepsAReadBackWritesMark(t *testing.T) {
	mach := standaloneMachine(t)
	synctest.Test(t, func(t *testing.T) {
		const wait = 10 * time.Second
		n := standaloneNode(mach, 0)
		start := time.Now()
		done := make(chan struct{})
		go func() { n.appliedHere(1, wait); close(done) }() // the admin's write at 1, at 0 s
		for i := 1; i <= 9; i++ {                           // results at 2..10, from 1 s
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second)))
			n.owe(uint64(i+1), wait)
		}
		<-done
		if n.BehindSince().IsZero() {
			t.Fatal("not behind after the read-back write's wait")
		}
		time.Sleep(time.Until(start.Add(wait + 500*time.Millisecond)))
		n.owe(11, wait) // nothing applied yet: 1 is owed for 10.5 s
		if n.BehindSince().IsZero() {
			t.Errorf("at 10.5 s, nothing applied since 0 s: the results' owe cleared the mark the read-back write set")
		}
	})
}

// A read-back write owed after its wait goes in its place by index, and a
// full list keeps its newest index in its last slot.
func TestReadBackWriteOwedInItsPlace(t *testing.T) {
	t0 := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	var o owedWrites
	for _, i := range []uint64{5, 6, 7} {
		o.add(i, t0.Add(time.Duration(i)*time.Second))
	}
	o.add(3, t0)
	if got := []uint64{o.writes[0].index, o.writes[1].index, o.writes[3].index}; got[0] != 3 || got[1] != 5 || got[2] != 7 || !o.writes[0].since.Equal(t0) {
		t.Errorf("owed %v, want 3 (owed since t0) first and 7 last", o.writes)
	}
	var full owedWrites
	for i := range uint64(maxOwed) {
		full.add(10+i, t0)
	}
	full.add(1, t0)
	if n, first, last := len(full.writes), full.writes[0].index, full.writes[len(full.writes)-1].index; n != maxOwed || first != 1 || last != 10+maxOwed-1 {
		t.Errorf("a full list after a read-back write: %d owed, first %d, last %d; want %d, 1, %d", n, first, last, maxOwed, 10+maxOwed-1)
	}
}

// standaloneMachine is a member's machine on its own real file, with no
// raft around it: what owe and appliedHere read (Stalled).
// standaloneNode is a member's Node with only what owing and marking
// read: its machine, its applied index at applied, and the wake-up channel
// keepLevel listens on (no raft, no connection).
func standaloneNode(mach *machine.Machine, applied uint64) *Node {
	return &Node{mach: mach, log: slog.New(slog.DiscardHandler), applied: newAppliedMark(applied), marked: make(chan struct{}, 1)}
}

func standaloneMachine(t *testing.T) *machine.Machine {
	t.Helper()
	m := threeNodes(t)[0]
	st, err := store.Open(m.cfg.Storage.Path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mach, err := machine.New(machine.Options{Store: st, Model: m.cfg.Model()})
	if err != nil {
		t.Fatal(err)
	}
	return mach
}

// A member found behind (its file held by a long transaction, as a slow
// or full disk holds it) that is then made leader still owes what it
// owed as a follower: it stays behind while those writes are not applied,
// and must be level once it applied them, though as the leader it
// forwards nothing, so no write of its own settles what it owes.
func TestBehindMemberMadeLeaderIsLevelOnceItApplied(t *testing.T) {
	const within = 5 * time.Second
	leader, m := leaderAndFollower(t)
	m.node.wait = time.Second // the wait for its own apply, then marked
	held, err := m.st.Begin() // its FSM's next apply waits for this transaction
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(held.Rollback) // before the member stops (cleanups run last first)
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	if _, err := m.node.Apply(store.Entry{At: now, Settings: []store.Setting{{Key: "k", Value: "v"}}}); err != nil {
		t.Fatal(err)
	}
	if m.node.BehindSince().IsZero() {
		t.Fatal("not marked behind after its write's wait ran out unapplied: nothing to test")
	}
	if err := leader.node.HandOver(m.id); err != nil {
		t.Fatal(err)
	}
	eventually(t, m.id+" leading", m.node.IsLeader)
	if m.node.BehindSince().IsZero() {
		t.Error("the new leader is level while the write it owes is not applied")
	}
	held.Rollback()
	if err := m.node.Barrier(within); err != nil {
		t.Fatal(err)
	}
	got, _ := m.node.applied.at()
	eventually(t, m.id+" level again, leading and applied to "+strconv.FormatUint(got, 10),
		func() bool { return m.node.BehindSince().IsZero() })
}

// keepLevel clears the mark once every write owed is applied, with no
// later write of this member's to do it (it leads now, or writes no
// more), and not before: an apply short of the newest write owed leaves
// it behind. Marked again later, it is cleared again. Time is synctest's.
func TestKeepLevelClearsOnceEveryOwedWriteIsApplied(t *testing.T) {
	mach := standaloneMachine(t)
	synctest.Test(t, func(t *testing.T) {
		const wait = 10 * time.Second
		n := standaloneNode(mach, 0)
		done := make(chan struct{})
		defer close(done)
		go n.keepLevel(done)
		for round, last := 1, uint64(0); round <= 2; round++ {
			for range 12 { // a write a second, none applied: the first is owed for 11 s at the last
				time.Sleep(time.Second)
				last++
				n.owe(last, wait)
			}
			if n.BehindSince().IsZero() {
				t.Fatalf("round %d: not behind with %d writes owed for up to 11 s", round, 12)
			}
			n.applied.advance(last - 1)
			synctest.Wait()
			if n.BehindSince().IsZero() {
				t.Errorf("round %d: level with write %d still owed", round, last)
			}
			n.applied.advance(last)
			synctest.Wait()
			if since := n.BehindSince(); !since.IsZero() {
				t.Errorf("round %d: every write applied (to %d), still behind since %v", round, last, since)
			}
		}
	})
}

// A read-back write whose wait ran out but which was applied before it
// was owed is not owed, and marks nothing: it was marked unconditionally,
// and keepLevel cleared the mark at once, after a warning for nothing.
func TestReadBackWriteAppliedMeanwhileMarksNothing(t *testing.T) {
	n := standaloneNode(standaloneMachine(t), 0)
	n.applied.advance(12)
	n.oweReadBack(12, time.Now().Add(-20*time.Second))
	if since := n.BehindSince(); !since.IsZero() || len(n.owed.writes) != 0 {
		t.Errorf("write 12, applied, owed after its wait: behind since %v, owed %v; want level, nothing owed", since, n.owed.writes)
	}
	n.oweReadBack(13, time.Now().Add(-20*time.Second))
	if n.BehindSince().IsZero() || len(n.owed.writes) != 1 {
		t.Errorf("write 13, not applied, owed after its wait: behind since %v, owed %v; want behind, 13 owed", n.BehindSince(), n.owed.writes)
	}
}
