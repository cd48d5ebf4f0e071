package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeSection is the README's section under heading, up to the next
// "## " heading, and the fenced blocks in it by language.
func readmeSection(t *testing.T, heading string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no %q section", heading)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	blocks := map[string][]string{}
	for _, m := range regexp.MustCompile("(?s)```(\\w+)\n(.*?)```").FindAllStringSubmatch(sec, -1) {
		blocks[m[1]] = append(blocks[m[1]], m[2])
	}
	return blocks
}

// readmeCommands are the `outpost ...` lines of the sh blocks, each as
// its arguments (after "outpost", the comment dropped).
func readmeCommands(blocks []string) [][]string {
	var out [][]string
	for _, b := range blocks {
		for _, line := range strings.Split(b, "\n") {
			line, _, _ = strings.Cut(line, "#")
			if f := strings.Fields(line); len(f) > 1 && f[0] == "outpost" {
				out = append(out, f[1:])
			}
		}
	}
	return out
}

// replaceAll replaces every old with its new in s, failing if the README
// no longer holds old (a substitution that silently did nothing would
// make the test follow something else than the README).
func replaceAll(t *testing.T, s string, subs map[string]string) string {
	t.Helper()
	for old, repl := range subs {
		if !strings.Contains(s, old) {
			t.Fatalf("the README's cluster config no longer holds %q", old)
		}
		s = strings.ReplaceAll(s, old, repl)
	}
	return s
}

// flagValue is the value of -name in args.
func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == "-"+name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// Three nodes made from the README's "Three nodes" section, followed
// literally on loopback (only addresses and paths substituted: the
// nodes' addresses, listeners and the watched target, and each node's
// folder), keep one state: /healthz (the load balancer's check) answers
// 200 on all three, the README's `cluster status` names one leader that
// every node agrees on, and /api/v2/summary.json's status is the same,
// from real results, on all three.
func TestREADMEClusterQuickStart(t *testing.T) {
	blocks := readmeSection(t, "## Three nodes (a cluster)")
	if len(blocks["yaml"]) != 1 {
		t.Fatalf("want one yaml block in the README's cluster section, got %d", len(blocks["yaml"]))
	}
	config := blocks["yaml"][0]
	cmds := readmeCommands(blocks["sh"])
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer api.Close()

	work := t.TempDir()
	ids := regexp.MustCompile(`id: ([a-z]+), address: "([^"]+)"`).FindAllStringSubmatch(config, -1)
	if len(ids) != 3 {
		t.Fatalf("want three nodes in the README's config, got %d", len(ids))
	}
	addrs := closedAddrs(t, 9) // per node: raft, listen, operators
	shared := map[string]string{"https://api.example.com/healthz": api.URL + "/healthz"}
	for i, m := range ids {
		shared[m[2]] = addrs[i]
	}
	dirs := map[string]string{}
	index := map[string]int{}
	for i, m := range ids {
		dir := filepath.Join(work, m[1])
		dirs[m[1]], index[m[1]] = dir, i
		subs := map[string]string{"0.0.0.0:8080": addrs[3+i], "127.0.0.1:9090": addrs[6+i]}
		for k, v := range shared {
			subs[k] = v
		}
		if err := os.MkdirAll(filepath.Join(dir, "cluster"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cluster.yaml"), []byte(replaceAll(t, config, subs)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The commands in the README's order: certificates made in one
	// folder and each node's files copied to its own, serve in each
	// node's folder, cluster status last.
	var nodes []*clusterProc
	var status []string
	for _, args := range cmds {
		switch {
		case len(args) > 1 && args[0] == "cluster" && args[1] == "certs":
			args = substituteFlag(args, "out", filepath.Join(work, flagValue(args, "out")))
			if code, _, errs := runBinary(t, nil, args...); code != exitOK {
				t.Fatalf("outpost %s: %s", strings.Join(args, " "), errs)
			}
			copyNodeFiles(t, filepath.Join(work, "cluster"), dirs)
		case args[0] == "serve":
			id := flagValue(args, "node")
			i := index[id]
			args = substituteFlag(args, "config", filepath.Join(dirs[id], flagValue(args, "config")))
			nodes = append(nodes, startClusterNode(t, flagValue(args, "config"), id, addrs[3+i], addrs[6+i], dirs[id]))
		case len(args) > 1 && args[0] == "cluster" && args[1] == "status":
			status = substituteFlag(args, "config", filepath.Join(dirs[flagValue(args, "node")], flagValue(args, "config")))
		default:
			t.Fatalf("the README's cluster section has a command this test does not follow: outpost %s", strings.Join(args, " "))
		}
	}
	if len(nodes) != 3 || status == nil {
		t.Fatalf("the README's cluster section starts %d nodes (want 3) and has cluster status %v", len(nodes), status != nil)
	}
	deadline := time.Now().Add(20 * time.Second)
	until(t, deadline, nodes, "/healthz 200 on all three", func() bool {
		for _, p := range nodes {
			if code, _ := p.get("/healthz"); code != http.StatusOK {
				return false
			}
		}
		return true
	})
	var leader string
	until(t, deadline, nodes, "one leader in the README's `cluster status`, the same on every node", func() bool {
		code, out, _ := runBinary(t, nil, status...)
		leader, _, _ = strings.Cut(strings.TrimPrefix(out, "leader: "), "\n")
		if code != exitOK || strings.Count(out, " Leader ") != 1 || !strings.HasPrefix(out, "leader: ") {
			return false
		}
		for _, p := range nodes {
			if l, _ := p.clusterView(); l != leader {
				return false
			}
		}
		return true
	})
	var seen []string
	until(t, deadline, nodes, "the same summary status, from results, on all three", func() bool {
		seen = seen[:0]
		for _, p := range nodes {
			s, ok := summaryStatus(p)
			if !ok || !strings.Contains(s, "All Systems Operational") {
				return false
			}
			seen = append(seen, s)
		}
		return seen[0] == seen[1] && seen[1] == seen[2]
	})
	t.Logf("leader %s; summary %s", leader, seen[0])
}

// summaryStatus is /api/v2/summary.json's status and each component's
// status, as one string to compare.
func summaryStatus(p *clusterProc) (string, bool) {
	code, body := p.get("/api/v2/summary.json")
	if code != http.StatusOK {
		return "", false
	}
	var s struct {
		Status     struct{ Indicator, Description string }
		Components []struct{ ID, Status string }
	}
	if json.Unmarshal([]byte(body), &s) != nil {
		return "", false
	}
	return fmt.Sprintf("%+v %+v", s.Status, s.Components), true
}

// substituteFlag sets -name's value in args (a path made absolute).
func substituteFlag(args []string, name, value string) []string {
	out := append([]string(nil), args...)
	for i, a := range out {
		if a == "-"+name && i+1 < len(out) {
			out[i+1] = value
		}
	}
	return out
}

// copyNodeFiles copies ca.pem and each node's own two files from the
// certificates' folder to the node's folder, as the README says.
func copyNodeFiles(t *testing.T, from string, dirs map[string]string) {
	t.Helper()
	for id, dir := range dirs {
		for _, f := range []string{"ca.pem", id + ".pem", id + "-key.pem"} {
			b, err := os.ReadFile(filepath.Join(from, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "cluster", f), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}
