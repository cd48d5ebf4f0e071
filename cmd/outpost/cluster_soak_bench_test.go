package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	soakChecks = flag.Int("soak.checks", 3000, "BenchmarkClusterSoak: HTTP checks at 30 s, on every member and on the single node")
	soakDur    = flag.Duration("soak.dur", 10*time.Minute, "BenchmarkClusterSoak: how long it measures after the warm-up")
	// soakThreshold is cluster.snapshot_threshold: small enough that each
	// member compacts at least twice in the soak (a member of a healthy
	// cluster appends about one entry a second: its routine results
	// gather for a second; see docs/benchmarks.md).
	soakThreshold = flag.Int("soak.snapshot", 400, "BenchmarkClusterSoak: cluster.snapshot_threshold")
	// soakProfile saves CPU profiles of the leader, a follower and the
	// single node covering the whole measured window, taken together: one
	// 25 s profile after another (the operators' listener's write timeout
	// is 30 s), merged by `go tool pprof -proto`, so the roles compare on
	// minutes of samples rather than one noisy second.
	soakProfile = flag.String("soak.profile", "", "BenchmarkClusterSoak: write cpu-leader.pprof, cpu-follower.pprof and cpu-single.pprof here")
	idleDur     = flag.Duration("idle.dur", time.Minute, "BenchmarkClusterIdle: how long it measures")
)

// soakInterval is the checks' interval.
const soakInterval = 30 * time.Second

// soakTarget answers every probe and counts it by the X-Node header the
// checks send (${OUTPOST_NODE} on a member, "single" on the single node):
// the checks' URLs are the same on every member, as the model requires.
type soakTarget struct {
	addr string
	mu   sync.Mutex
	hits map[string]int64
}

func startSoakTarget(b *testing.B) *soakTarget {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	t := &soakTarget{addr: ln.Addr().String(), hits: map[string]int64{}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.mu.Lock()
		t.hits[r.Header.Get("X-Node")]++
		t.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	})}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return t
}

func (t *soakTarget) count(node string) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.hits[node]
}

// soakChecksYAML is the components and checks, the same for all four
// processes but for the header's value.
func soakChecksYAML(n int, target, node string) string {
	var s strings.Builder
	s.WriteString("components:\n")
	for i := range 50 {
		fmt.Fprintf(&s, "  - {id: c%d, name: Component %d, group: Group %d}\n", i, i, i/10)
	}
	if n == 0 {
		return s.String() + "checks: []\n"
	}
	s.WriteString("checks:\n")
	for i := range n {
		fmt.Fprintf(&s, "  - {name: check-%05d, component: c%d, kind: http, target: \"http://%s/\", headers: {X-Node: %q}, interval: 30s, timeout: 5s}\n",
			i, i%50, target, node)
	}
	return s.String()
}

// soakMember is one process of the soak and its figures at the start.
type soakMember struct {
	name, data string
	p          *clusterProc
	at0        soakFigures
}

// soakFigures is what the soak reads from a process at its start and end.
type soakFigures struct {
	at                     time.Time
	hits, cpu, raft, logB  int64
	down, dropped, applied float64
}

func (m *soakMember) read(b *testing.B, tg *soakTarget) soakFigures {
	f := soakFigures{at: time.Now(), hits: tg.count(m.name), cpu: cpuTicks(m.p.cmd.Process.Pid),
		raft: dirSize(filepath.Join(m.data, "outpost.db.raft")), logB: int64(len(m.p.log()))}
	mt := scrape(b, m.p.ops)
	f.down, f.dropped, f.applied = mt["down"], mt["dropped"], mt["applied"]
	return f
}

// exited reports whether the child has ended (a zombie until waited for).
func exited(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	s := string(raw)
	return err != nil || strings.HasPrefix(s[strings.LastIndexByte(s, ')')+1:], " Z")
}

// dirSize is the bytes of the files under dir (0 when absent).
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// startSoakCluster starts three members with the given checks and extra
// keys of the cluster section, and waits until all answer /healthz and
// one leads.
func startSoakCluster(b *testing.B, checks string, clusterExtra string) []*soakMember {
	b.Helper()
	dir := b.TempDir()
	ids, addrs := []string{"ams", "nyc", "sgp"}, closedAddrs(b, 9)
	certs := filepath.Join(dir, "cluster")
	if code, _, errs := runBinary(b, nil, "cluster", "certs", "-out", certs, "-nodes", "ams,nyc,sgp"); code != exitOK {
		b.Fatalf("certs: %s", errs)
	}
	body := fmt.Sprintf(`site: {title: Soak}
listen: "${LISTEN}"
operators: {listen: "${OPS}"}
storage: {path: "${DATA}/outpost.db"}
%svoting: {vote: majority}
cluster:
  nodes:
    - {id: ams, address: %q, location: eu-west}
    - {id: nyc, address: %q, location: us-east}
    - {id: sgp, address: %q, location: ap-southeast}
  tls: {ca_file: %q, cert_file: "%s/${OUTPOST_NODE}.pem", key_file: "%s/${OUTPOST_NODE}-key.pem"}
%s`, checks, addrs[0], addrs[1], addrs[2], filepath.Join(certs, "ca.pem"), certs, certs, clusterExtra)
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		b.Fatal(err)
	}
	var ms []*soakMember
	var procs []*clusterProc
	for i, id := range ids {
		data := filepath.Join(dir, id)
		p := startClusterNode(b, cfg, id, addrs[3+i], addrs[6+i], data)
		ms, procs = append(ms, &soakMember{name: id, data: data, p: p}), append(procs, p)
	}
	until(b, time.Now().Add(3*time.Minute), procs, "three members up with a leader", func() bool {
		for _, p := range procs {
			if exited(p.cmd.Process.Pid) {
				b.Fatalf("%s exited:\n%s", p.id, p.log())
			}
			if code, _ := p.get("/healthz"); code != http.StatusOK {
				return false
			}
		}
		return leaderOf(procs) != nil
	})
	return ms
}

// startSoakSingle starts one node without a cluster section.
func startSoakSingle(b *testing.B, checks string) *soakMember {
	b.Helper()
	dir, addrs := b.TempDir(), closedAddrs(b, 2)
	cfg := filepath.Join(dir, "config.yaml")
	body := fmt.Sprintf("site: {title: Soak}\nlisten: %s\noperators: {listen: %q}\nstorage: {path: %q}\n%s",
		addrs[0], addrs[1], filepath.Join(dir, "outpost.db"), checks)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		b.Fatal(err)
	}
	p := startProc(b, exec.Command(outpostBinary(b), "serve", "-config", cfg), "single", addrs[0], addrs[1])
	until(b, time.Now().Add(2*time.Minute), []*clusterProc{p}, "the single node up", func() bool {
		code, _ := p.get("/healthz")
		return code == http.StatusOK
	})
	return &soakMember{name: "single", data: dir, p: p}
}

// BenchmarkClusterSoak runs three `outpost serve -node` processes and, in
// the same run, one single node, each with -soak.checks HTTP checks at
// 30 s against one local target that counts each process's runs (a
// member runs every check from its location: the vote). After a 35 s
// warm-up it measures for -soak.dur: CPU per own probe run, RSS, raft log
// growth, log growth, each FSM snapshot's time and size, runs executed
// and false failures. About 12 min at the defaults:
//
//	go test ./cmd/outpost -run '^$' -bench ClusterSoak -benchtime 1x -timeout 30m -v [-soak.dur 4m] [-soak.profile DIR]
func BenchmarkClusterSoak(b *testing.B) {
	for range b.N {
		tg := startSoakTarget(b)
		extra := fmt.Sprintf("  snapshot_threshold: %d\n  snapshot_interval: 10s\n", *soakThreshold)
		members := startSoakCluster(b, soakChecksYAML(*soakChecks, tg.addr, "${OUTPOST_NODE}"), extra)
		all := append(members, startSoakSingle(b, soakChecksYAML(*soakChecks, tg.addr, "single")))
		time.Sleep(35 * time.Second) // every check has run once from every member
		b.Logf("load average at start: %s", loadAverage())
		for _, m := range all {
			m.at0 = m.read(b, tg)
		}
		leader, follower := roles(members)
		snaps := watchSnapshots(members, *soakDur, leader, follower, all[3])
		b.Logf("load average at end: %s", loadAverage())
		single := reportSoak(b, all[3], tg, nil, 0)
		for _, m := range members {
			reportSoak(b, m, tg, snaps[m.name], single)
		}
	}
}

// roles are the leader and a member that does not lead (nil when none
// is known).
func roles(ms []*soakMember) (leader, follower *clusterProc) {
	var procs []*clusterProc
	for _, m := range ms {
		procs = append(procs, m.p)
	}
	l := leaderOf(procs)
	for _, p := range procs {
		if p != l {
			return l, p
		}
	}
	return l, nil
}

// watchSnapshots waits out the soak, noting each member's new snapshots
// (raft keeps two) by their folders' names every 2 s, and profiles the
// three roles over the whole window when asked.
func watchSnapshots(ms []*soakMember, d time.Duration, lead, fol *clusterProc, single *soakMember) map[string]map[string]int64 {
	seen := map[string]map[string]int64{}
	end := time.Now().Add(d)
	var profiled sync.WaitGroup
	if *soakProfile != "" {
		for name, base := range map[string]string{"leader": lead.ops, "follower": fol.ops, "single": single.p.ops} {
			profiled.Go(func() { profileUntil(base, filepath.Join(*soakProfile, "cpu-"+name), end) })
		}
	}
	for time.Now().Before(end) {
		for _, m := range ms {
			if seen[m.name] == nil {
				seen[m.name] = map[string]int64{}
			}
			snapDir := filepath.Join(m.data, "outpost.db.raft", "snapshots")
			ents, _ := os.ReadDir(snapDir)
			for _, e := range ents {
				if _, err := os.Stat(filepath.Join(snapDir, e.Name(), "meta.json")); err == nil && !strings.HasSuffix(e.Name(), ".tmp") {
					seen[m.name][e.Name()] = dirSize(filepath.Join(snapDir, e.Name()))
				}
			}
		}
		time.Sleep(2 * time.Second)
	}
	profiled.Wait()
	return seen
}

// profileUntil takes one CPU profile after another from an operators'
// listener until end (each at most 25 s: the listener's write timeout is
// 30 s), then merges them into prefix.pprof with `go tool pprof -proto`.
func profileUntil(base, prefix string, end time.Time) {
	if os.MkdirAll(filepath.Dir(prefix), 0o755) != nil {
		return
	}
	var parts []string
	for i := 0; ; i++ {
		secs := min(25, int(time.Until(end).Seconds()))
		if secs < 1 {
			break
		}
		part := fmt.Sprintf("%s-%02d.pprof", prefix, i)
		if saveProfile(base, part, secs) {
			parts = append(parts, part)
		}
	}
	if len(parts) == 0 {
		return
	}
	out, err := os.Create(prefix + ".pprof")
	if err != nil {
		return
	}
	defer out.Close()
	cmd := exec.Command("go", append([]string{"tool", "pprof", "-proto"}, parts...)...)
	cmd.Stdout = out
	if cmd.Run() == nil {
		for _, p := range parts {
			_ = os.Remove(p)
		}
	}
}

// saveProfile writes a CPU profile of secs seconds from an operators'
// listener and reports whether it got one.
func saveProfile(base, path string, secs int) bool {
	c := &http.Client{Timeout: time.Minute}
	r, err := c.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, secs))
	if err != nil {
		return false
	}
	defer r.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return false
	}
	_, err = io.Copy(f, io.LimitReader(r.Body, 64<<20))
	return f.Close() == nil && err == nil && r.StatusCode == http.StatusOK
}

var snapLine = regexp.MustCompile(`^time=(\S+) .*(starting snapshot up to|snapshot complete up to): index=(\d+)`)

// snapshotTimes pairs raft's start and completion lines by index.
func snapshotTimes(logs string) (order []string, took map[string]time.Duration) {
	started, took := map[string]time.Time{}, map[string]time.Duration{}
	for l := range strings.SplitSeq(logs, "\n") {
		m := snapLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			continue
		}
		if strings.HasPrefix(m[2], "starting") {
			started[m[3]] = at
			order = append(order, m[3])
		} else if s, ok := started[m[3]]; ok {
			took[m[3]] = at.Sub(s)
		}
	}
	return order, took
}

// reportSoak logs and reports one process's figures; single is the single
// node's CPU ms per run (0: this is it), and the ratio goal is 1.5.
func reportSoak(b *testing.B, m *soakMember, tg *soakTarget, snaps map[string]int64, single float64) float64 {
	b.Helper()
	f, f0 := m.read(b, tg), m.at0
	secs := f.at.Sub(f0.at).Seconds()
	runs := float64(f.hits - f0.hits)
	expected := float64(*soakChecks) * secs / soakInterval.Seconds()
	cpuPerRun := float64(f.cpu-f0.cpu) * 10 / runs // ticks are 10 ms
	pid := m.p.cmd.Process.Pid
	b.ReportMetric(cpuPerRun, m.name+"-cpu-ms/run")
	b.ReportMetric(100*float64(f.cpu-f0.cpu)/100/secs, m.name+"-cpu-%")
	b.ReportMetric(100*runs/expected, m.name+"-%runs-executed")
	b.ReportMetric(f.down-f0.down, m.name+"-false-failures")
	b.ReportMetric(f.dropped-f0.dropped, m.name+"-results-dropped")
	b.ReportMetric(float64(procStatus(pid, "VmHWM:"))/(1<<20), m.name+"-peak-RSS-MiB")
	b.ReportMetric(float64(rssOf(pid))/(1<<20), m.name+"-RSS-MiB")
	b.ReportMetric(float64(f.logB-f0.logB)/1024/secs*3600, m.name+"-log-KiB/h")
	line := fmt.Sprintf("%s: %.0f runs in %.0f s (%.1f %%), cpu %.3f ms/run, down %.0f, dropped %.0f, VmHWM %.0f MiB, RSS %.0f MiB, log +%d B",
		m.name, runs, secs, 100*runs/expected, cpuPerRun, f.down-f0.down, f.dropped-f0.dropped,
		float64(procStatus(pid, "VmHWM:"))/(1<<20), float64(rssOf(pid))/(1<<20), f.logB-f0.logB)
	if single > 0 {
		b.ReportMetric(cpuPerRun/single, m.name+"-cpu-ratio-to-single")
		b.ReportMetric(float64(f.raft-f0.raft)/(1<<20), m.name+"-raft-growth-MiB")
		b.ReportMetric((f.applied-f0.applied)/secs, m.name+"-entries/s")
		_, state := m.p.clusterView()
		line += fmt.Sprintf(", %s, ratio to single %.2f, raft files %d -> %d B, applied +%.0f entries", state, cpuPerRun/single, f0.raft, f.raft, f.applied-f0.applied)
		line += reportSnapshots(b, m, snaps)
	}
	b.Log(line)
	return cpuPerRun
}

// reportSnapshots describes each snapshot the member took (time from
// raft's lines, size from its folder) and fails below two.
func reportSnapshots(b *testing.B, m *soakMember, snaps map[string]int64) string {
	order, took := snapshotTimes(m.p.log())
	sizes := map[string]int64{}
	for name, size := range snaps { // term-index-ms
		if parts := strings.Split(name, "-"); len(parts) == 3 {
			sizes[parts[1]] = size
		}
	}
	var s strings.Builder
	fmt.Fprintf(&s, "; %d snapshots:", len(order))
	for _, idx := range order {
		fmt.Fprintf(&s, " [index %s: %.3f s, %d B]", idx, took[idx].Seconds(), sizes[idx])
	}
	if len(order) < 2 {
		b.Errorf("%s took %d snapshots, want at least 2 (lower -soak.snapshot)", m.name, len(order))
	}
	b.ReportMetric(float64(len(order)), m.name+"-snapshots")
	return s.String()
}

// BenchmarkClusterIdle: the CPU of three members with no checks, for the
// default commit_timeout (250 ms: an idle leader tells its followers what
// committed that often) and raft's 50 ms, both clusters running at once
// so they meet the same neighbours' load. About 2 min:
//
//	go test ./cmd/outpost -run '^$' -bench ClusterIdle -benchtime 1x -v [-idle.dur 60s]
func BenchmarkClusterIdle(b *testing.B) {
	for range b.N {
		variants := []struct{ name, extra string }{{"default", ""}, {"commit-50ms", "  commit_timeout: 50ms\n"}}
		clusters := make([][]*soakMember, len(variants))
		for i, v := range variants {
			clusters[i] = startSoakCluster(b, soakChecksYAML(0, "", ""), v.extra)
		}
		time.Sleep(10 * time.Second) // start-up settled
		b.Logf("load average at start: %s", loadAverage())
		cpu0 := make([][]int64, len(variants))
		for i, ms := range clusters {
			for _, m := range ms {
				cpu0[i] = append(cpu0[i], cpuTicks(m.p.cmd.Process.Pid))
			}
		}
		start := time.Now()
		time.Sleep(*idleDur)
		secs := time.Since(start).Seconds()
		b.Logf("load average at end: %s", loadAverage())
		for i, ms := range clusters {
			var parts []string
			for j, m := range ms {
				pct := float64(cpuTicks(m.p.cmd.Process.Pid)-cpu0[i][j]) / secs // ticks of 10 ms: % of one core
				role := "follower"
				if _, state := m.p.clusterView(); state == "Leader" {
					role = "leader"
				}
				b.ReportMetric(pct, fmt.Sprintf("%s-%s-cpu-%%", variants[i].name, m.name))
				parts = append(parts, fmt.Sprintf("%s (%s) %.2f %%", m.name, role, pct))
			}
			b.Logf("%s: %s of one core over %.0f s", variants[i].name, strings.Join(parts, ", "), secs)
		}
	}
}
