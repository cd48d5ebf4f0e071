package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPeersWatchEachOther(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two real Outposts")
	}
	bin := outpostBinary(t)
	nets := newFakeNetworks(t) // alpha's operators' channel
	a := closedAddrs(t, 2)
	alpha, beta := a[0], a[1]
	const key = "peer-key-0123456789abcdef"
	write := func(self, listen, other, otherAddr, extra string) string {
		p := filepath.Join(t.TempDir(), "config.yaml")
		os.WriteFile(p, []byte(fmt.Sprintf(`
site: {id: %s, title: %s status}
listen: %s
components: [{id: web, name: Web}]
peers:
  - {name: %s, url: "http://%s", key: %s}
peering: {interval: 1s, failures: 2}
%s`, self, self, listen, other, otherAddr, key, extra)), 0o600)
		return p
	}
	cfgA := write("alpha", alpha, "beta", beta, "channels:\n  - {name: ops, kind: slack, url: \""+nets.srv.URL+"/slack\"}\n")
	cfgB := write("beta", beta, "alpha", alpha, "")
	startOutpost(t, bin, cfgA, alpha)
	b := startOutpost(t, bin, cfgB, beta)

	// Beta dies: alpha's operators hear of it.
	_ = b.cmd.Process.Signal(syscall.SIGKILL)
	_ = b.cmd.Wait()
	waitFor(t, 10*time.Second, "peer_down at alpha's operators", func() bool {
		_, got := nets.snapshot()
		return strings.Contains(strings.Join(got["slack"], "\n"), "Peer Outpost beta")
	}, nil)
	_, got := nets.snapshot()
	if !strings.Contains(strings.Join(got["slack"], "\n"), "is down") {
		t.Fatalf("operators got %q", got["slack"])
	}
	// Beta returns: recovery is reported.
	startOutpost(t, bin, cfgB, beta)
	waitFor(t, 10*time.Second, "peer_up at alpha's operators", func() bool {
		_, got := nets.snapshot()
		return strings.Contains(strings.Join(got["slack"], "\n"), "answers again")
	}, nil)
}
