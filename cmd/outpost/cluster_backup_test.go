package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/store"
)

// `outpost backup` and `outpost verify` work on any member: a follower's
// backup, taken while it runs, holds the same replicated state as the
// leader's at the same applied index (every bucket, key by key, but the
// backup's own mark), so restoring either gives the same state.
func TestBackupAndVerifyOnAnyMember(t *testing.T) {
	dir := t.TempDir()
	nodes := quietCluster(t, dir, "ams", "nyc", "sgp")
	var leader *clusterProc
	until(t, time.Now().Add(40*time.Second), nodes, "a leader", func() bool { leader = leaderOf(nodes); return leader != nil })
	if code, body := request(t, "POST", leader.base+"/api/v1/incidents", opsToken, `{"name":"Payments down","message":"Looking into it"}`); code != http.StatusCreated {
		t.Fatalf("incident: %d %s", code, body)
	}
	until(t, time.Now().Add(20*time.Second), nodes, "every member at the leader's applied index", func() bool {
		want := leader.raftFigure("outpost_cluster_raft_applied_index")
		for _, p := range nodes {
			if p.raftFigure("outpost_cluster_raft_applied_index") != want || p.raftFigure("outpost_cluster_raft_commit_index") != want {
				return false
			}
		}
		return want > 0
	})
	// Every member writes an entry of its own every 5 s (its periodic
	// step), so backups taken one after another can straddle one: a
	// round whose copies are at different applied indexes is taken again.
	var copies map[string]map[string]string
	for round := 0; ; round++ {
		copies = backups(t, dir, nodes)
		if same := appliedIndexes(copies); len(same) == 1 && same["none"] == nil {
			break
		} else if round == 5 {
			t.Fatalf("six rounds of backups, never all at one applied index: %v", same)
		}
	}
	for _, p := range nodes {
		if p == leader {
			continue
		}
		if diff := sameContents(copies[leader.id], copies[p.id]); diff != "" {
			t.Errorf("%s's backup differs from the leader's: %s", p.id, diff)
		}
	}
}

// backups takes each member's backup, verifies its file, and returns
// each copy's replicated contents but the backup's own mark.
func backups(t *testing.T, dir string, nodes []*clusterProc) map[string]map[string]string {
	t.Helper()
	cfg := filepath.Join(dir, "config.yaml")
	copies := map[string]map[string]string{}
	for _, p := range nodes {
		env := []string{"DATA=" + filepath.Join(dir, p.id), "LISTEN=127.0.0.1:1", "OPS=127.0.0.1:2"} // read, never listened on
		out := filepath.Join(dir, p.id+"-backup.db")
		if code, stdout, stderr := runBinary(t, env, "backup", "-config", cfg, "-node", p.id, "-out", out); code != exitOK || !strings.Contains(stdout, "the running Outpost") {
			t.Fatalf("backup on %s: exit %d: %s %q", p.id, code, stdout, stderr)
		}
		if code, stdout, stderr := runBinary(t, env, "verify", "-config", cfg, "-node", p.id); code != exitOK {
			t.Fatalf("verify on %s: exit %d: %s %s", p.id, code, stdout, stderr)
		}
		st, err := store.Open(out, store.Options{ReplicatedOnly: true})
		if err != nil {
			t.Fatalf("%s's backup: %v", p.id, err)
		}
		c, err := st.Contents()
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		for k := range c {
			if strings.HasPrefix(k, "meta/backup") {
				delete(c, k) // when the copy was taken
			}
		}
		if !strings.Contains(strings.Join(mapValues(c), "\n"), "Payments down") {
			t.Fatalf("%s's backup has no incident", p.id)
		}
		copies[p.id] = c
	}
	return copies
}

// appliedIndexes are the distinct applied indexes of the copies.
func appliedIndexes(copies map[string]map[string]string) map[string][]string {
	out := map[string][]string{}
	for id, c := range copies {
		idx := fmt.Sprintf("%x", c["meta/applied_index"])
		if idx == "" {
			idx = "none"
		}
		out[idx] = append(out[idx], id)
	}
	return out
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// sameContents names the first key whose value differs ("" when none).
func sameContents(a, b map[string]string) string {
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return k
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			return k
		}
	}
	return ""
}
