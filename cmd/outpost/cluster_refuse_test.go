package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A member whose certificates come from another cluster's CA is refused
// by the others (it never joins: it says it is cut off, and the two go on
// with their leader); a member whose key is readable by others does not
// start, with the reason.
func TestStrangerAndLooseKeyAreRefused(t *testing.T) {
	dir := t.TempDir()
	tg := &target{addr: "127.0.0.1:0"}
	tg.start(t)
	defer tg.stop()
	cfg, addrs := clusterFiles(t, dir, tg.addr, 2)
	// sgp's files from another cluster's CA, under the same names.
	other := filepath.Join(t.TempDir(), "other")
	if code, _, errs := runBinary(t, nil, "cluster", "certs", "-out", other, "-nodes", "ams,nyc,sgp"); code != exitOK {
		t.Fatalf("certs: %s", errs)
	}
	for _, f := range []string{"ca.pem", "sgp.pem", "sgp-key.pem"} {
		data, err := os.ReadFile(filepath.Join(other, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "stranger-"+f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	strangerCfg := filepath.Join(dir, "stranger.yaml")
	body, _ := os.ReadFile(cfg)
	s := strings.Replace(string(body), `ca_file: "`+filepath.Join(dir, "cluster", "ca.pem")+`"`, `ca_file: "`+filepath.Join(dir, "stranger-ca.pem")+`"`, 1)
	s = strings.Replace(s, filepath.Join(dir, "cluster")+"/${OUTPOST_NODE}", filepath.Join(dir, "stranger-")+"${OUTPOST_NODE}", 2)
	if s == string(body) {
		t.Fatal("the stranger's config names the cluster's files")
	}
	if err := os.WriteFile(strangerCfg, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	nodes := []*clusterProc{
		startClusterNode(t, cfg, "ams", addrs[3], addrs[6], filepath.Join(dir, "ams")),
		startClusterNode(t, cfg, "nyc", addrs[4], addrs[7], filepath.Join(dir, "nyc")),
		startClusterNode(t, strangerCfg, "sgp", addrs[5], addrs[8], filepath.Join(dir, "sgp")),
	}
	until(t, time.Now().Add(40*time.Second), nodes, "ams and nyc with a leader, the stranger cut off", func() bool {
		code, _ := nodes[2].get("/healthz")
		_, page := nodes[2].get("/")
		return leaderOf(nodes[:2]) != nil && code == http.StatusServiceUnavailable && strings.Contains(page, "cut off from the others")
	})
	for _, p := range nodes[:2] {
		if !strings.Contains(p.log(), "cluster connection refused") {
			t.Errorf("%s did not log refusing the stranger", p.id)
		}
	}

	// A key readable by others: the node does not start, and says why.
	key := filepath.Join(dir, "cluster", "sgp-key.pem")
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"LISTEN=" + addrs[5], "OPS=" + addrs[8], "DATA=" + filepath.Join(dir, "loose")}
	code, _, errs := runBinary(t, env, "serve", "-config", cfg, "-node", "sgp")
	if code == exitOK || !strings.Contains(errs, "readable by others (mode 0644); chmod 600 it") {
		t.Fatalf("serve with a loose key: exit %d, %s", code, errs)
	}
}
