package cluster

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/store"
)

// TestPerHostChild is one process of BenchmarkReplicatedMonitorPerHost: a
// member or the single node, commanded line by line on stdin, answering
// on stdout. In any other run it skips at once.
func TestPerHostChild(t *testing.T) {
	raw := os.Getenv(perHostEnv)
	if raw == "" {
		t.Skip("runs only as a process of BenchmarkReplicatedMonitorPerHost")
	}
	c := &child{in: bufio.NewScanner(os.Stdin), out: json.NewEncoder(os.Stdout)}
	if err := json.Unmarshal([]byte(raw), &c.spec); err != nil {
		t.Fatalf("%s: %v", perHostEnv, err)
	}
	// Nothing is done before the first command: by then the parent has
	// moved this process into its cgroup.
	first, ok := c.next(t)
	if !ok || first.Op != "start" {
		t.Fatalf("first command %+v, want start", first)
	}
	if c.spec.Profile != "" {
		f, err := os.Create(c.spec.Profile)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		// Before the cleanups stop the member: its stop is not measured.
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	c.clock = benchClock{start: monotonic(first.Clock)}
	c.open(t)
	c.reply(t, hostReply{Leader: c.leader()})
	for {
		cmd, ok := c.next(t)
		if !ok {
			return // the parent closed stdin: a clean stop
		}
		c.reply(t, c.do(t, cmd))
	}
}

// child is the state of a TestPerHostChild process.
type child struct {
	spec   childSpec
	in     *bufio.Scanner
	out    *json.Encoder
	clock  benchClock
	checks []string
	feeder *feeder
	st     *store.Store
	node   *Node // nil for the single node
}

// monotonic is the parent's wall-clock time ns as a time with this
// process's monotonic reading: differences with it are measured on the
// monotonic clock, which a step of the wall clock does not move back (a
// producer once computed a negative count owed from a start without one).
func monotonic(ns int64) time.Time {
	return time.Now().Add(time.Until(time.Unix(0, ns)))
}

func (c *child) next(t *testing.T) (hostCmd, bool) {
	var cmd hostCmd
	if !c.in.Scan() {
		return cmd, false
	}
	if err := json.Unmarshal(c.in.Bytes(), &cmd); err != nil {
		t.Fatalf("command %q: %v", c.in.Text(), err)
	}
	return cmd, true
}

func (c *child) reply(t *testing.T, r hostReply) {
	if err := c.out.Encode(r); err != nil {
		t.Fatal(err)
	}
}

func (c *child) leader() bool { return c.node != nil && c.node.IsLeader() }

// open starts the member (and waits for a leader and its codec gate, as
// BenchmarkReplicatedMonitor does) or the single node.
func (c *child) open(t *testing.T) {
	src, err := os.ReadFile(c.spec.Config)
	if err != nil {
		t.Fatal(err)
	}
	m := &member{id: c.spec.Node, cfg: memberConfig(t, c.spec.Node, string(src))}
	c.checks = moreChecks([]*member{m}, benchChecks)
	if c.spec.Role == "single" {
		var one store.Log
		one, c.st = oneMachine(t, m)
		c.feeder = &feeder{log: one}
		return
	}
	f := os.NewFile(3, "listener")
	if m.ln, err = net.FileListener(f); err != nil {
		t.Fatalf("the listener handed down as fd 3: %v", err)
	}
	f.Close()
	m.start(t, 0)
	eventually(t, "leader", func() bool { return m.node.Leader() != "" })
	eventually(t, m.id+"'s codec gate", func() bool { return m.node.CodecReady(store.CodecVersion, time.Second) == nil })
	c.feeder, c.st, c.node = memberFeeder(m, c.spec.Index), m.st, m.node
}

func (c *child) do(t *testing.T, cmd hostCmd) hostReply {
	switch cmd.Op {
	case "rung":
		cpu0 := cpuTime()
		w := c.feeder.feed(share{w: cmd.W, n: cmd.N, per: cmd.Per, start: monotonic(cmd.Start)}, c.checks, c.clock)
		r := hostReply{Leader: c.leader(), Procs: runtime.GOMAXPROCS(0), Applied: w.applied, Entries: w.entries, Writing: int64(w.writing), Longest: int64(w.longest), End: w.end.UnixNano(), CPU0: int64(cpu0)}
		if w.err != nil {
			r.Err = w.err.Error()
		}
		return r
	case "cpu":
		return hostReply{CPU: int64(cpuTime())}
	case "count":
		return hostReply{Count: holds(t, c.st, c.checks, cmd.Want)}
	}
	return hostReply{Err: fmt.Sprintf("unknown command %q", cmd.Op)}
}

// cgroup is a cgroup v1 cpu cgroup: its folder, and its quota in cores.
type cgroup struct {
	dir   string
	quota float64
}

// newCgroups makes a cgroup with quota µs per quotaPeriod for each name
// (the benchmark is skipped when it cannot), removed at cleanup.
func newCgroups(b *testing.B, quota int, names ...string) []cgroup {
	var out []cgroup
	for _, name := range names {
		cg := cgroup{dir: filepath.Join(cgroupRoot, fmt.Sprintf(perHostName, os.Getpid(), name)), quota: quotaCores(quota)}
		if err := os.Mkdir(cg.dir, 0o755); err != nil {
			b.Skipf("needs a cgroup v1 cpu controller it can write (root): %v", err)
		}
		b.Cleanup(func() {
			if err := cg.remove(); err != nil {
				b.Error(err)
			}
		})
		err := cg.write("cpu.cfs_period_us", int(quotaPeriod.Microseconds()))
		if err == nil {
			err = cg.write("cpu.cfs_quota_us", quota)
		}
		if err != nil {
			b.Skipf("needs a cgroup v1 cpu controller it can write (root): %v", err)
		}
		out = append(out, cg)
	}
	return out
}

func (c cgroup) write(file string, v int) error {
	if err := os.WriteFile(filepath.Join(c.dir, file), []byte(strconv.Itoa(v)), 0); err != nil {
		return fmt.Errorf("cgroup %s: %w", c.dir, err)
	}
	return nil
}

// add moves process pid, all its threads, into c.
func (c cgroup) add(pid int) error { return c.write("cgroup.procs", pid) }

// throttled is the time c's processes have been held back by the quota
// (cpu.stat's throttled_time), 0 if unreadable.
func (c cgroup) throttled() time.Duration {
	stat, err := os.ReadFile(filepath.Join(c.dir, "cpu.stat"))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(stat)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "throttled_time "); ok {
			ns, _ := strconv.ParseInt(v, 10, 64)
			return time.Duration(ns)
		}
	}
	return 0
}

// remove removes c once its processes have gone (an exiting process
// leaves its cgroup a moment after its parent saw it exit).
func (c cgroup) remove() error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := os.Remove(c.dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("removing cgroup %s: %w", c.dir, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
