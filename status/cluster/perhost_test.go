package cluster

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	perHostQuota   = flag.Int("perhost.quota", 66666, "BenchmarkReplicatedMonitorPerHost: each process's cpu.cfs_quota_us (period 100000 µs)")
	perHostProfile = flag.String("perhost.cpuprofile", "", "BenchmarkReplicatedMonitorPerHost: each process writes ROLE.pprof, a CPU profile of its whole life, into this folder")
)

const (
	perHostEnv   = "OUTPOST_PERHOST_CHILD" // a child's spec, as JSON; absent in any other run
	hostLead     = 100 * time.Millisecond  // a rung starts this long after its command, so its processes start it together
	replySlack   = 30 * time.Second        // past rungMax, a process that has not answered a rung is taken for hung
	startTimeout = 90 * time.Second        // a member's start: raft, an election, the codec gate
	askTimeout   = 30 * time.Second        // any other command (a count waits up to 20 s)
	stopTimeout  = 20 * time.Second        // a child's clean stop once its stdin is closed, before it is killed
	tailBytes    = 8 << 10                 // what is kept of a child's other output, for errors
	quotaPeriod  = 100 * time.Millisecond  // cpu.cfs_period_us
	cgroupRoot   = "/sys/fs/cgroup/cpu"    // cgroup v1's cpu controller
	perHostName  = "outpost-perhost-%d-%s" // a cgroup's name: this process's pid, the child's role
)

// BenchmarkReplicatedMonitorPerHost is BenchmarkReplicatedMonitor with each
// node on a host of its own, as issue 29's goal means it: the single node
// and each of the three members is a process of its own (this test binary
// run again as TestPerHostChild), each in a cgroup v1 cpu cgroup with the
// same CPU quota (2/3 of a core by default, -perhost.quota in µs per
// 100 ms), so the single node and every member have the same CPU. In one
// process on this 2-core machine the three members share the cores the
// single node has to itself, and the ratio says more about the machine
// than about the cluster. What the emulation shares still: the disk (every
// fsync goes to the same device) and the loopback interface (no network
// latency); the machine's other load is seen by all four processes.
//
// The ladder, the monitor's queue and window, the alternation and the
// verdicts are BenchmarkReplicatedMonitor's: the parent sends each process
// its share of a rung (a third of the rate to each member) and its start;
// each answers what it applied, its entries, its writes' time, when it was
// done and its CPU time. Printed per rung and process: cores (its CPU time
// over the rung's time; at the quota it is CPU-bound) and the time the
// cgroup throttled it. Afterwards each process counts its file's raw
// results, which must equal the results counted as applied. Needs root
// and cgroup v1's cpu controller at /sys/fs/cgroup/cpu (skipped without);
// the cgroups are removed at the end.
//
//	go test ./status/cluster -run '^$' -bench PerHost -benchtime 1x -v
//	go test ./status/cluster -run '^$' -bench PerHost -benchtime 1x -v -args -perhost.quota 100000 -perhost.cpuprofile /tmp/ph
func BenchmarkReplicatedMonitorPerHost(b *testing.B) {
	quota := *perHostQuota
	cgs := newCgroups(b, quota, "ams", "nyc", "sgp", "single")
	dir := b.TempDir()
	srcs, lns := clusterSources(b, "ams", "nyc", "sgp")
	var members hostSet
	for i, id := range []string{"ams", "nyc", "sgp"} {
		conf := filepath.Join(dir, id+".yaml")
		if err := os.WriteFile(conf, []byte(srcs[i]), 0o600); err != nil {
			b.Fatal(err)
		}
		spec := childSpec{Role: "member", Node: id, Index: i, Config: conf}
		members = append(members, startHost(b, spec, lns[i], cgs[i]))
	}
	// The single node's model is a member's without locations (oneMachine).
	one := startHost(b, childSpec{Role: "single", Node: "ams", Config: filepath.Join(dir, "ams.yaml")}, nil, cgs[3])
	clock := benchClock{start: time.Now()}
	all := append(hostSet{one}, members...)
	// All at once: a member's start waits for a leader, which needs the others.
	for _, h := range all {
		if err := h.send(hostCmd{Op: "start", Clock: clock.start.UnixNano()}); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(startTimeout)
	for _, h := range all {
		if _, err := h.recv(deadline); err != nil {
			b.Fatal(err)
		}
	}
	fmt.Fprintf(b.Output(), "each process: cpu.cfs_quota_us %d per %d µs (%.2f core)\n", quota, quotaPeriod.Microseconds(), quotaCores(quota))
	single, cluster := &system{name: "single", runner: hostSet{one}}, &system{name: "cluster", runner: members}
	b.ResetTimer()
	compare(b, single, cluster, nil, clock)
	b.StopTimer()
	b.ReportMetric(quotaCores(quota), "quota-cores")
	// Every result counted as applied is in every file's raw results.
	one.mustHold(b, single.applied)
	for _, h := range members {
		h.mustHold(b, cluster.applied)
	}
}

func quotaCores(quota int) float64 {
	return float64(quota) / float64(quotaPeriod.Microseconds())
}

// childSpec is what a child is: its role ("member" or "single"), the node
// whose config it reads (the single node reads a member's), its index
// among the members and a file for its CPU profile ("" for none).
type childSpec struct {
	Role, Node string
	Index      int
	Config     string
	Profile    string
}

// hostCmd is one line to a child: start (the bench clock's start), rung
// (writer W of N offers Per results/s from Start), cpu, or count (wait
// until the file holds Want raw results).
type hostCmd struct {
	Op              string
	Clock, Start    int64
	W, N, Per, Want int
}

// hostReply is a child's answer: what its part of a rung came to (its
// writes' time and when it was done, in ns; its CPU time when the rung's
// command came; its GOMAXPROCS, which Go sets from the cgroup's quota),
// its CPU time, or its count.
type hostReply struct {
	Leader                  bool
	Procs                   int
	Applied, Entries, Count int
	Writing, Longest        int64
	End, CPU0, CPU          int64
	Err                     string
}

// proc is one process's part of a rung.
type proc struct {
	name      string
	leader    bool
	procs     int           // its GOMAXPROCS
	longest   time.Duration // its slowest write
	cpu       time.Duration // its CPU time over the rung
	throttled time.Duration // the time its cgroup was throttled meanwhile
	quota     float64       // its quota, in cores
}

// procsLine is a rung's processes: the cores each used over the rung's
// time (at its quota: CPU-bound) and the time each was throttled.
func procsLine(r rung) string {
	var parts []string
	for _, p := range r.procs {
		role := ""
		if p.leader {
			role = " leader"
		}
		parts = append(parts, fmt.Sprintf("%s (P=%d%s) %.2f cores, throttled %.2f s, slowest write %d ms",
			p.name, p.procs, role, p.cpu.Seconds()/r.took.Seconds(), p.throttled.Seconds(), p.longest.Milliseconds()))
	}
	return fmt.Sprintf("per process (quota %.2f core; P: GOMAXPROCS): %s", r.procs[0].quota, strings.Join(parts, "; "))
}

// host is a child process: one node on a host of its own.
type host struct {
	name    string
	cg      cgroup
	cmd     *exec.Cmd
	in      io.WriteCloser
	replies chan string   // its reply lines; closed when its stdout ends
	exited  chan struct{} // closed once it has exited and been waited for
	tail    *tail         // its other output
	lost    error         // a reply that did not come: any later one would answer the wrong command
}

// startHost starts the child spec in cg (before it does any work: it
// waits for its first command); ln, if any, is the member's listener.
func startHost(b *testing.B, spec childSpec, ln net.Listener, cg cgroup) *host {
	name := spec.Node
	if spec.Role == "single" {
		name = "single"
	}
	if *perHostProfile != "" {
		spec.Profile = filepath.Join(*perHostProfile, name+".pprof")
	}
	env, err := json.Marshal(spec)
	if err != nil {
		b.Fatal(err)
	}
	h := &host{name: name, cg: cg, replies: make(chan string, 4), exited: make(chan struct{}), tail: &tail{}}
	h.cmd = exec.Command(os.Args[0], "-test.run", "^TestPerHostChild$", "-test.timeout", "30m")
	h.cmd.Env = append(os.Environ(), perHostEnv+"="+string(env))
	h.cmd.Stderr = h.tail
	if ln != nil {
		// The child listens on the very socket the config names (handed
		// down as fd 3), so no other process can take the port meanwhile.
		f, err := ln.(*net.TCPListener).File()
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		defer ln.Close()
		h.cmd.ExtraFiles = []*os.File{f}
	}
	h.start(b)
	return h
}

func (h *host) start(b *testing.B) {
	var err error
	if h.in, err = h.cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	out, err := h.cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		b.Fatalf("%s: %v", h.name, err)
	}
	go h.read(out)
	b.Cleanup(h.stop)
	if err := h.cg.add(h.cmd.Process.Pid); err != nil {
		b.Fatalf("%s: %v", h.name, err)
	}
}

// read hands reply lines (JSON) to replies and keeps the rest (a failing
// child's test output) in the tail.
func (h *host) read(out io.Reader) {
	defer close(h.exited)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "{") {
			h.replies <- line
		} else {
			fmt.Fprintln(h.tail, line)
		}
	}
	close(h.replies)
	h.cmd.Wait()
}

// stop closes the child's stdin (it stops cleanly, writing its profile)
// and kills it if it has not exited within stopTimeout.
func (h *host) stop() {
	h.in.Close()
	// Replies nobody asked for must not block the reader.
	go func() {
		for range h.replies {
		}
	}()
	select {
	case <-h.exited:
	case <-time.After(stopTimeout):
		h.cmd.Process.Kill()
		<-h.exited
	}
}

func (h *host) send(c hostCmd) error {
	line, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := h.in.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("%s: sending %s: %w", h.name, c.Op, err)
	}
	return nil
}

// recv is the child's next reply, if it comes by deadline.
func (h *host) recv(deadline time.Time) (hostReply, error) {
	var r hostReply
	if h.lost != nil {
		return r, h.lost
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case line, ok := <-h.replies:
		if !ok {
			return r, fmt.Errorf("%s exited: %s", h.name, h.tail)
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return r, fmt.Errorf("%s: reply %q: %w", h.name, line, err)
		}
		return r, nil
	case <-timer.C:
		h.lost = fmt.Errorf("%s: no reply by %s: %s", h.name, deadline.Format(time.TimeOnly), h.tail)
		return r, h.lost
	}
}

func (h *host) ask(c hostCmd, wait time.Duration) (hostReply, error) {
	if err := h.send(c); err != nil {
		return hostReply{}, err
	}
	return h.recv(time.Now().Add(wait))
}

// mustHold has the child count its file's raw results (it waits up to
// 20 s for them): want, the results counted as applied.
func (h *host) mustHold(b *testing.B, want int) {
	r, err := h.ask(hostCmd{Op: "count", Want: want}, askTimeout)
	if err != nil {
		b.Error(err)
	} else if r.Count != want {
		b.Errorf("%s holds %d raw results, %d were applied", h.name, r.Count, want)
	}
}

// hostSet is a system whose writers are processes of their own.
type hostSet []*host

// run sends each process its share of the rung and collects what it came
// to, then each process's CPU time: a follower still applies the others'
// entries after its own writes are done, so it is read once all are.
func (hs hostSet) run(rate int, _ []string, _ benchClock) rung {
	start := time.Now().Add(hostLead)
	per := rate / len(hs)
	out := rung{rate: rate, offered: per * int(rungTime/time.Second) * len(hs)}
	thr0 := make([]time.Duration, len(hs))
	for i, h := range hs {
		thr0[i] = h.cg.throttled()
		out.err = errors.Join(out.err, h.send(hostCmd{Op: "rung", W: i, N: len(hs), Per: per, Start: start.UnixNano()}))
	}
	cpu0 := make([]int64, len(hs))
	leader, procs, longest := make([]bool, len(hs)), make([]int, len(hs)), make([]time.Duration, len(hs))
	for i, h := range hs {
		r, err := h.recv(start.Add(rungMax + replySlack))
		if err == nil && r.Err != "" {
			err = fmt.Errorf("%s: %s", h.name, r.Err)
		}
		out.err = errors.Join(out.err, err)
		out.applied, out.entries, out.writing = out.applied+r.Applied, out.entries+r.Entries, out.writing+time.Duration(r.Writing)
		out.took = max(out.took, time.Unix(0, r.End).Sub(start))
		cpu0[i], leader[i], procs[i], longest[i] = r.CPU0, r.Leader, r.Procs, time.Duration(r.Longest)
	}
	for i, h := range hs {
		r, err := h.ask(hostCmd{Op: "cpu"}, askTimeout)
		out.err = errors.Join(out.err, err)
		p := proc{name: h.name, leader: leader[i], procs: procs[i], longest: longest[i], cpu: time.Duration(r.CPU - cpu0[i]), throttled: h.cg.throttled() - thr0[i], quota: h.cg.quota}
		out.procs, out.cpu = append(out.procs, p), out.cpu+p.cpu
	}
	if out.err != nil {
		out.took = max(out.took, rungMax)
	}
	return out
}

// tail keeps the last tailBytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailBytes {
		t.buf = t.buf[len(t.buf)-tailBytes:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}
