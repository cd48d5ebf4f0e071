package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/smalldisk"
)

// A follower whose disk fills says so (its public /healthz 503, its page
// delayed) while the other two go on and open the incident; once space
// returns it catches up to the same state (restarted by its orchestrator
// if it halted: its operators' /healthz said it was not alive).
func TestFollowerWithAFullDiskCatchesUp(t *testing.T) {
	disk := smalldisk.Mount(t, "16m")
	dir := t.TempDir()
	tg := &target{addr: "127.0.0.1:0"}
	tg.start(t)
	defer tg.stop()
	cfg, addrs := clusterFiles(t, dir, tg.addr, 2)
	ids := []string{"ams", "nyc", "sgp"}
	data := []string{filepath.Join(dir, "ams"), filepath.Join(dir, "nyc"), filepath.Join(disk, "sgp")}
	nodes := make([]*clusterProc, 3)
	for i, id := range ids {
		nodes[i] = startClusterNode(t, cfg, id, addrs[3+i], addrs[6+i], data[i])
	}
	deadline := time.Now().Add(40 * time.Second)
	until(t, deadline, nodes, "all three in touch, sgp following", func() bool {
		for _, p := range nodes {
			if code, _ := p.get("/healthz"); code != http.StatusOK {
				return false
			}
		}
		_, state := nodes[2].clusterView()
		return state == "Follower"
	})
	free := smalldisk.Fill(t, disk)
	tg.stop() // an incident, while sgp's disk is full
	sgp := nodes[2]
	until(t, deadline, nodes, "sgp saying its state is out of date, the others the incident", func() bool {
		code, _ := sgp.get("/healthz")
		_, page := sgp.get("/")
		_, a := nodes[0].get("/api/v2/incidents.json")
		_, b := nodes[1].get("/api/v2/incidents.json")
		return code == http.StatusServiceUnavailable && strings.Contains(page, "Monitoring delayed since") &&
			strings.Count(a, `"shortlink"`) == 1 && a == b
	})
	free()
	deadline = time.Now().Add(40 * time.Second)
	restarted := false
	until(t, deadline, nodes, "sgp caught up", func() bool {
		if code, body := getURL(sgp.ops + "/healthz"); code != http.StatusOK && strings.Contains(body, "halted") && !restarted {
			// What an orchestrator does with a node that is not alive.
			_ = sgp.cmd.Process.Kill()
			_ = sgp.cmd.Wait()
			sgp = startClusterNode(t, cfg, "sgp", addrs[5], addrs[8], data[2])
			nodes[2], restarted = sgp, true
		}
		code, _ := sgp.get("/healthz")
		_, a := nodes[0].get("/api/v2/incidents.json")
		_, c := sgp.get("/api/v2/incidents.json")
		return code == http.StatusOK && a == c
	})
	t.Logf("restarted by its orchestrator: %v", restarted)
}
