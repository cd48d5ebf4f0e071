package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/machine"
	"github.com/outpost-status/outpost/status/store"
)

// Options configures a node's part in the cluster.
type Options struct {
	Config  *config.Config // with a cluster section; Cluster.Node is this node
	Machine *machine.Machine
	Store   *store.Store
	Logger  *slog.Logger
	// Listener, when set, is the cluster address's listener (tests hand
	// one in); else the node listens on its address in cluster.nodes.
	Listener net.Listener
}

// Node is this Outpost's member of the cluster: hashicorp/raft with its
// log and stable store (raft-boltdb) and snapshots beside the data file,
// the machine as its FSM, and the node connection. It is the node's Log:
// an entry is appended by the leader and applied by every node's machine.
type Node struct {
	id        string
	cfg       *config.Config
	expiry    Expiries // the certificates in force, read at start
	st        *store.Store
	mach      *machine.Machine
	r         *raft.Raft
	up        atomic.Bool // r is set: the listener serves before raft.NewRaft returns
	mux       *mux
	logs      *raftboltdb.BoltStore
	dial      *tls.Config
	members   *roster
	removed   atomic.Bool  // the leader removed this member (members.go)
	codec     atomic.Int64 // the codec version this member reports (store.CodecVersion; a test fakes an older member while it runs)
	codecOK   codecGate    // the highest codec every member reported (codec.go); 0: ask
	done      chan struct{}
	log       *slog.Logger
	behind    atomic.Int64  // unix nanos: see BehindSince
	marked    chan struct{} // behind was set: keepLevel watches the applies (readback.go)
	started   time.Time     // when this member started
	heartbeat time.Duration // raft's heartbeat timeout in force
	wait      time.Duration // how long a write waits for a leader
	apply     time.Duration // how long the leader waits to append an entry
	lead      *leadership   // raft's leadership notifications, for every reader
	fwd       *streams      // this member's forward streams to the leader
	applied   *appliedMark  // what this member's FSM applied (forwardTo waits on it)
	owed      owedWrites    // writes not waited for, not applied yet (readback.go)
}

// Start opens the node's raft files, listens on its cluster address, and
// joins the cluster: the first start of every member bootstraps the same
// configuration (all of cluster.nodes as voters; raft takes one and
// ignores the rest).
func Start(o Options) (*Node, error) {
	cl := o.Config.Cluster
	members := newRoster(cl.Nodes)
	tcfg, err := tlsConfig(o.Config, cl.Node, members.trusts)
	if err != nil {
		return nil, err
	}
	// The certificates' ends as loaded now: the connection uses these
	// until a restart, so they are read once.
	exp, err := Expiry(o.Config)
	if err != nil {
		return nil, err
	}
	dir := raftDir(o.Config.Storage.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("raft folder: %w", err)
	}
	removeSnapshotCopies(dir, o.Logger)
	// No lock timeout of its own: the data file's lock, taken first
	// (store.Open, with a timeout), keeps a second process out of the
	// folder before it reaches raft's files.
	logs, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		return nil, fmt.Errorf("raft log %s: %w", dir, err)
	}
	n := &Node{id: cl.Node, cfg: o.Config, st: o.Store, mach: o.Machine, expiry: exp, logs: logs, dial: tcfg, members: members, log: o.Logger,
		done: make(chan struct{}), wait: 10 * time.Second, apply: 10 * time.Second, lead: newLeadership(), marked: make(chan struct{}, 1)}
	n.codec.Store(store.CodecVersion)
	n.fwd = newStreams(n.dialForward)
	at, _ := o.Store.AppliedIndex() // 0 on a failed read: the first apply sets it
	n.applied = newAppliedMark(at)
	if err := n.start(o, dir, tcfg); err != nil {
		n.Close()
		return nil, err
	}
	go n.keepMembers(n.done)
	go n.keepCodec(n.done)
	go n.keepLevel(n.done)
	return n, nil
}

func (n *Node) start(o Options, dir string, tcfg *tls.Config) error {
	cl := o.Config.Cluster
	self := cl.Self().Address
	rlog := hclogFor(o.Logger)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, rlog)
	if err != nil {
		return fmt.Errorf("raft snapshots: %w", err)
	}
	ln := o.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", self); err != nil {
			return fmt.Errorf("cluster address: %w", err)
		}
	}
	n.mux = newMux(ln, tcfg, o.Logger, n.serveForward, n.serveView, answerBusy)
	trans := raft.NewNetworkTransportWithLogger(&layer{m: n.mux, idAt: n.members.idAt, dial: tcfg, local: ln.Addr()}, 3, 10*time.Second, rlog)
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cl.Node)
	rc.Logger = rlog
	// A leader that removes itself (cluster.nodes no longer lists it)
	// steps down and says so (Removed), rather than stopping raft under
	// the node.
	rc.ShutdownOnRemove = false
	// Writes from every member's monitor and dispatchers arrive at once:
	// a buffered apply channel lets the leader take up to
	// MaxAppendEntries of them into one log write (one fsync) and one
	// replication round, which the FSM then applies in one transaction.
	rc.BatchApplyCh = true
	raftTiming(rc, cl)
	// The data file is durable up to its applied index: installing raft's
	// own latest snapshot at every start would rewrite the file only to
	// replay it. A snapshot passes that index by entries the FSM does not
	// apply (a barrier after a told commit, a new leader's no-op), which
	// the file holds as well as it can; only a file behind that snapshot
	// by a command (replaced by hand, or lost its tail) needs it.
	if list, err := snaps.List(); err == nil && len(list) > 0 {
		if applied, err := o.Store.AppliedIndex(); err == nil && fileHolds(n.logs, applied, list[0].Index) {
			rc.NoSnapshotRestoreOnStart = true
		}
	}
	had, err := raft.HasExistingState(n.logs, n.logs, snaps)
	if err != nil {
		return fmt.Errorf("raft state: %w", err)
	}
	n.started, n.heartbeat = time.Now(), rc.HeartbeatTimeout
	// Recent entries from memory: the leader reads the entry before the
	// ones it sends for each AppendEntries, and a follower applies what it
	// has just stored; from the file, each was a read transaction and a
	// msgpack decode of the whole entry (a tenth of a leader's CPU in the
	// soak). A monitor's entry carries at most 5,000 results (status/monitor
	// maxEntryResults, a few tens of KiB to a MiB), so the cache holds a few
	// hundred KiB in steady state and tens of MiB while a backlog drains;
	// what bounds it hard is the forward frame (16 MiB an entry).
	logs, err := raft.NewLogCache(logCacheEntries, n.logs)
	if err != nil {
		return fmt.Errorf("raft log cache: %w", err)
	}
	if n.r, err = raft.NewRaft(rc, &fsm{m: o.Machine, st: o.Store, dir: dir, applied: n.applied}, logs, n.logs, snaps, trans); err != nil {
		return fmt.Errorf("raft: %w", err)
	}
	n.up.Store(true)
	go n.lead.watch(n.r.LeaderCh())
	if !had {
		return n.bootstrap()
	}
	return nil
}

// ErrNoLeader: no leader was known within the wait, so the write was not
// made.
var ErrNoLeader = fmt.Errorf("the cluster has no leader (an election is under way, or this node is cut off from the others): %w", store.ErrLogUnavailable)

// ErrOutcomeUnknown: the entry was appended to the log, but the leader
// lost its leadership before the entry committed; a later leader may
// still commit it. The writer must not assume it was not made (sending
// it again may make it twice).
var ErrOutcomeUnknown = fmt.Errorf("the leader lost its leadership before the write committed: %w", store.ErrOutcomeUnknown)

// Apply appends e to the replicated log and returns what applying it on
// the leader gave: on the leader directly, from a follower through the
// node connection to the leader. It is the node's Log.
func (n *Node) Apply(e store.Entry) (store.Result, error) {
	if n.removed.Load() {
		return store.Result{}, ErrRemoved
	}
	data, err := n.encode(e)
	if err != nil {
		return store.Result{}, err
	}
	deadline := time.Now().Add(n.wait)
	for {
		if n.r.State() == raft.Leader {
			res, _, err := n.applyLocal(data)
			if err == nil && news(res) {
				n.tellCommit()
			}
			if errors.Is(err, raft.ErrLeadershipLost) {
				return res, fmt.Errorf("%w (%w)", ErrOutcomeUnknown, err)
			}
			if !errors.Is(err, raft.ErrNotLeader) {
				return res, err
			}
		} else if addr, id := n.r.LeaderWithID(); id != "" {
			res, err := n.forwardTo(string(id), string(addr), data, readsBack(e), time.Until(deadline))
			if !errors.Is(err, errTryAgain) {
				return res, err
			}
		}
		if time.Now().After(deadline) {
			return store.Result{}, ErrNoLeader
		}
		time.Sleep(50 * time.Millisecond) // an election takes a few hundred ms
	}
}

// applyLocal appends data as the leader and waits for its apply here; it
// says at which index.
func (n *Node) applyLocal(data []byte) (store.Result, uint64, error) {
	f := n.r.Apply(data, n.apply)
	if err := f.Error(); err != nil {
		return store.Result{}, 0, err
	}
	a, ok := f.Response().(applied)
	if !ok {
		return store.Result{}, f.Index(), errors.New("raft: the entry's apply gave no result")
	}
	return a.res, f.Index(), a.err
}

// ID is this node's id.
func (n *Node) ID() string { return n.id }

// Leader is the leader's node id ("" while none is known).
func (n *Node) Leader() string {
	_, id := n.r.LeaderWithID()
	return string(id)
}

// CutOffSince is since when this member has been cut off from the
// others (zero while it is not): it does not lead, and has heard from no
// leader for three heartbeat timeouts (an election on a sound cluster
// takes less). A leader cut off from a majority stops leading within
// raft's lease, and so is cut off too. Before it first hears from a
// leader, it counts from start.
func (n *Node) CutOffSince(now time.Time) time.Time {
	if n.r.State() == raft.Leader {
		return time.Time{}
	}
	last := n.r.LastContact()
	if last.Before(n.started) {
		last = n.started
	}
	if now.Sub(last) < 3*n.heartbeat {
		return time.Time{}
	}
	return last
}

// Term is raft's current term (while this node leads: that of its
// leadership).
func (n *Node) Term() uint64 { return n.r.CurrentTerm() }

// BehindSince is since when this member's own writes, made by the leader,
// have not reached its file within the wait (its disk is full, its
// applier halted or slow): what it shows is behind the cluster. Zero
// while it keeps up, and again once it applied every such write, whether
// or not it still writes through a leader (it may lead now: keepLevel).
func (n *Node) BehindSince() time.Time {
	if t := n.behind.Load(); t != 0 {
		return time.Unix(0, t).UTC()
	}
	return time.Time{}
}

// IsLeader reports whether this node leads.
func (n *Node) IsLeader() bool { return n.r.State() == raft.Leader }

// Expiries are the ends of the certificates this member uses (read at
// start, as its connection loaded them).
func (n *Node) Expiries() Expiries { return n.expiry }

// Barrier waits until every entry committed before it is applied here.
func (n *Node) Barrier(timeout time.Duration) error { return n.r.Barrier(timeout).Error() }

// Stats is raft's own report (state, term, indexes, last contact).
func (n *Node) Stats() map[string]string { return n.r.Stats() }

// Close leaves: raft stops (its transport and the node connection with
// it) and its files close.
func (n *Node) Close() error {
	var errs []error
	if n.done != nil {
		close(n.done) // keepMembers, keepCodec and keepLevel end
		n.done = nil
	}
	if n.fwd != nil {
		n.fwd.close()
	}
	if n.r != nil {
		errs = append(errs, n.r.Shutdown().Error())
		n.lead.close()
	}
	if n.mux != nil {
		n.mux.close()
	}
	if n.logs != nil {
		errs = append(errs, n.logs.Close())
	}
	return errors.Join(errs...)
}

// hclogFor routes raft's logging into the node's slog logger.
func hclogFor(log *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Info, Output: slogWriter{log}, DisableTime: true})
}

// slogWriter writes each of raft's lines as one slog record.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := slog.LevelInfo
	switch {
	case strings.Contains(line, "[ERROR]"):
		level = slog.LevelError
	case strings.Contains(line, "[WARN]"):
		level = slog.LevelWarn
	}
	w.log.Log(context.Background(), level, "raft", slog.String("line", line))
	return len(p), nil
}

var _ io.Writer = slogWriter{}

// logCacheEntries is how many of the newest log entries raft keeps in
// memory (raft.LogCache; Consul keeps 512 of its much smaller entries).
const logCacheEntries = 32

// defaultCommitTimeout is how soon an idle leader tells the followers
// what committed. raft's own 50 ms had the leader send each follower an
// AppendEntries every 50-100 ms with nothing new in most (3,000 checks at
// 30 s make a member about one entry a second): the larger share of what
// a leader paid beyond a follower in the soak (docs/benchmarks.md). It
// was short because a follower's forwarded write waited for the follower
// to learn of its commit; now only a write read back waits, and the
// leader tells the followers at once (readback.go). What it still bounds:
// a follower's page and re-checks lag a commit by up to twice this when
// nothing else is sent. 5 ms had taken an idle leader 10.5 % of a core
// against 2.5 % at 50 ms (BenchmarkClusterIdle).
const defaultCommitTimeout = 250 * time.Millisecond

// raftTiming takes the cluster section's timing keys over raft's defaults.
func raftTiming(rc *raft.Config, cl *config.Cluster) {
	rc.CommitTimeout = defaultCommitTimeout
	for _, k := range []struct {
		to   *time.Duration
		from time.Duration
	}{{&rc.HeartbeatTimeout, cl.HeartbeatTimeout}, {&rc.ElectionTimeout, cl.ElectionTimeout},
		{&rc.LeaderLeaseTimeout, cl.LeaderLeaseTimeout}, {&rc.CommitTimeout, cl.CommitTimeout}, {&rc.SnapshotInterval, cl.SnapshotInterval}} {
		if k.from > 0 {
			*k.to = k.from
		}
	}
	if cl.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cl.SnapshotThreshold
	}
	if cl.TrailingLogs > 0 {
		rc.TrailingLogs = cl.TrailingLogs
	}
}
