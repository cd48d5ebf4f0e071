package node

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
)

// overSocket POSTs path to the node's local socket (what `outpost
// heartbeat token` does) and returns the body.
func overSocket(t *testing.T, n *Node, path string) string {
	t.Helper()
	sock := BackupSocket(n.cfg.Storage.Path)
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := client.Post("http://outpost"+path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

// A heartbeat token issued on one member works on every member, and a
// beat sent to any member reaches all of them: each judges the check at
// once from the same beat (here a reported failure), so every member's
// results say so, not only the one the job called.
func TestHeartbeatTakenByAnyMember(t *testing.T) {
	nodes := voiceNodes(t, "  - {name: nightly, component: api, kind: heartbeat, period: 1h, interval: 1m}\n", "")
	var leader *Node
	waitFor(t, "leader", 30*time.Second, func() bool { leader = leaderOf(nodes); return leader != nil })
	var issuer, called *Node
	for _, n := range nodes {
		switch {
		case n == leader:
		case issuer == nil:
			issuer = n
		default:
			called = n
		}
	}
	token := strings.TrimSpace(overSocket(t, issuer, "/heartbeat-token?check=nightly"))
	since := time.Now()
	url := "http://" + called.Addr().String() + "/api/v1/heartbeat/" + token + "/fail"
	var code int
	waitFor(t, "the token taken by another member", 10*time.Second, func() bool {
		resp, err := http.Post(url, "", nil)
		if err != nil {
			return false
		}
		resp.Body.Close()
		code = resp.StatusCode
		return code == http.StatusOK
	})
	waitFor(t, "every member judging the reported failure, on every member", 15*time.Second, func() bool {
		for _, n := range nodes {
			res, err := n.st.Results("nightly", since, time.Now().Add(time.Minute), 100)
			if err != nil {
				return false
			}
			failed := 0
			for _, r := range res {
				if r.Result.Outcome == probes.Down && r.Result.Reason == probes.ReasonReportedFailure {
					failed++
				}
			}
			if failed < len(nodes) {
				return false
			}
		}
		return true
	})
}

// Every member runs its own dead man's switch, and its URL may name the
// member (${OUTPOST_NODE}): each pings its own URL, leader or not. Each
// member may keep its own static export too: each folder holds a page
// made by that member, whose footer names it.
func TestEveryMemberPingsAndExportsItsOwn(t *testing.T) {
	var mu sync.Mutex
	pinged := map[string]int{}
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		pinged[r.URL.Path]++
		mu.Unlock()
	}))
	defer fake.Close()
	exports := t.TempDir()
	nodes := voiceNodes(t, "", fmt.Sprintf("deadman: {url: \"%s/ping/${OUTPOST_NODE}\", interval: 1s}\nexport: {dir: \"%s/${OUTPOST_NODE}\"}\n", fake.URL, exports))
	waitFor(t, "a ping from each member at its own URL, and each member's export", 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range nodes {
			id := n.cfg.Cluster.Node
			page, err := os.ReadFile(filepath.Join(exports, id, "index.html"))
			if pinged["/ping/"+id] == 0 || err != nil || !strings.Contains(string(page), "by the monitor "+id) {
				return false
			}
		}
		return len(pinged) == len(nodes)
	})
}
