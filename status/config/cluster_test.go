package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const clusterBase = "site: {title: T}\ncomponents: [{id: a, name: A}]\n"

const clusterSection = `cluster:
  nodes:
    - {id: ams, address: "ams.example.net:7946", location: eu-west}
    - {id: nyc, address: "[2001:db8::1]:7946", location: us-east}
    - {id: sgp, address: "sgp.example.net:7946", location: us-east}
  tls: {ca_file: cluster/ca.pem, cert_file: "cluster/${OUTPOST_NODE}.pem", key_file: "/etc/outpost/${OUTPOST_NODE}-key.pem"}
`

// The cluster section: node ids, addresses and locations, the TLS files
// relative to the config file, and this node's id from OUTPOST_NODE.
func TestClusterSection(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, src, node string
		want            string // a message Parse must report; "" for none
	}{
		{"no section, no node", clusterBase, "", ""},
		{"no section, a node", clusterBase, "ams", ""},
		{"a member", clusterBase + clusterSection, "nyc", ""},
		{"no node id", clusterBase + clusterSection, "", `cluster.nodes: this node's id is not set: run with -node ID or set OUTPOST_NODE (one of ams, nyc, sgp)`},
		{"not a member", clusterBase + clusterSection, "fra", `cluster.nodes: no node has the id "fra" given by -node or OUTPOST_NODE (ids: ams, nyc, sgp)`},
		{"empty section", clusterBase + "cluster: {}\n", "ams", "cluster.nodes: at least one node is required"},
		{"no tls", clusterBase + "cluster: {nodes: [{id: ams, address: \"a:1\", location: x}]}\n", "ams", "cluster.tls.ca_file: is required"},
		{"bad port", clusterBase + "cluster: {nodes: [{id: ams, address: \"a:http\", location: x}]}\n", "ams", `cluster.nodes[0].address: must be host:port with a port (e.g. ams.example.net:7946), got "a:http"`},
		{"no host", clusterBase + "cluster: {nodes: [{id: ams, address: \":7946\", location: x}]}\n", "ams", `cluster.nodes[0].address: must be host:port with a port`},
		{"unknown tls key", clusterBase + "cluster: {tls: {ca: x}}\n", "ams", `cluster.tls.ca: unknown field "ca"`},
		{"a continents profile", clusterBase + clusterSection + "  heartbeat_timeout: 5s\n  election_timeout: 5s\n  leader_lease_timeout: 2500ms\n", "ams", ""},
		{"election shorter than heartbeat", clusterBase + clusterSection + "  heartbeat_timeout: 5s\n", "ams",
			"cluster.election_timeout: must be at least heartbeat_timeout (5s), got 1s"},
		{"lease longer than heartbeat", clusterBase + clusterSection + "  leader_lease_timeout: 2s\n", "ams",
			"cluster.leader_lease_timeout: must be at most heartbeat_timeout (1s), got 2s"},
		{"a timeout too short", clusterBase + clusterSection + "  commit_timeout: 1ms\n", "ams",
			"cluster.commit_timeout: must be at least 5ms (or left out for the default), got 1ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{NodeEnv: tc.node}
			lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok && v != "" }
			cfg, err := Parse(filepath.Join(dir, "c.yaml"), []byte(tc.src), LoadOptions{Lookup: lookup})
			if tc.want != "" {
				var es Errors
				if !errors.As(err, &es) || !strings.Contains(es.Error(), tc.want) {
					t.Fatalf("Parse = %v\nwant an error with %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(tc.src, "cluster:") {
				if cfg.Cluster != nil {
					t.Fatalf("no cluster section, but Cluster = %+v", cfg.Cluster)
				}
				return
			}
			c := cfg.Cluster
			if c == nil || c.Node != tc.node || len(c.Nodes) != 3 || c.Nodes[1].Address != "[2001:db8::1]:7946" {
				t.Fatalf("cluster = %+v", c)
			}
			if want := filepath.Join(dir, "cluster", "ca.pem"); c.TLS.CAFile != want {
				t.Errorf("ca_file %q, want it relative to the config file: %q", c.TLS.CAFile, want)
			}
			if want := filepath.Join(dir, "cluster", tc.node+".pem"); c.TLS.CertFile != want {
				t.Errorf("cert_file %q, want ${OUTPOST_NODE} expanded: %q", c.TLS.CertFile, want)
			}
			if want := "/etc/outpost/" + tc.node + "-key.pem"; c.TLS.KeyFile != want {
				t.Errorf("key_file %q, want the absolute path kept: %q", c.TLS.KeyFile, want)
			}
		})
	}
}

// The cluster section is wired at start, but for its members: a reload
// that adds or removes the section, moves this node or changes its TLS
// files or raft's timing is refused; one that adds, removes or moves
// another member reloads (cluster.nodes is authoritative).
func TestClusterNeedsARestart(t *testing.T) {
	lookup := func(k string) (string, bool) { return "ams", k == NodeEnv }
	load := func(src string) *Config {
		t.Helper()
		c, err := Parse("r.yaml", []byte(src), LoadOptions{Lookup: lookup})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	single, clustered := load(clusterBase), load(clusterBase+clusterSection)
	edit := func(old, new string) *Config { return load(clusterBase + strings.Replace(clusterSection, old, new, 1)) }
	moved := edit("ams.example.net:7946", "ams.example.net:7947")
	elsewhere := edit("location: eu-west", "location: eu-central")
	otherCA := edit("ca_file: cluster/ca.pem", "ca_file: cluster/ca2.pem")
	timing := load(clusterBase + clusterSection + "  commit_timeout: 250ms\n")
	for name, pair := range map[string][2]*Config{"added": {single, clustered}, "removed": {clustered, single}, "this node moved": {clustered, moved},
		"this node's location": {clustered, elsewhere}, "tls": {clustered, otherCA}, "timing": {clustered, timing}} {
		if err := RestartNeeded(pair[0], pair[1]); err == nil || !strings.Contains(err.Error(), "cluster changed") {
			t.Errorf("%s: RestartNeeded = %v, want cluster changed", name, err)
		}
	}
	fourth := load(clusterBase + clusterSection[:strings.Index(clusterSection, "  tls:")] + "    - {id: lon, address: \"lon.example.net:7946\", location: eu-west}\n" +
		clusterSection[strings.Index(clusterSection, "  tls:"):])
	for name, next := range map[string]*Config{"the same": load(clusterBase + clusterSection), "a member added": fourth,
		"a member removed": edit("    - {id: sgp, address: \"sgp.example.net:7946\", location: us-east}\n", ""),
		"a member moved":   edit("sgp.example.net:7946", "sgp2.example.net:7946")} {
		if err := RestartNeeded(clustered, next); err != nil {
			t.Errorf("%s: %v, want a reload", name, err)
		}
	}
}

// The compaction keys (whole numbers, unsigned in raft's config) are read
// as documented, and a negative or fractional one is a clear error.
func TestClusterCompactionKeys(t *testing.T) {
	lookup := func(k string) (string, bool) { return "ams", k == NodeEnv }
	src := clusterBase + clusterSection + "  snapshot_threshold: 2000\n  trailing_logs: 500\n  snapshot_interval: 10s\n"
	cfg, err := Parse("c.yaml", []byte(src), LoadOptions{Lookup: lookup})
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Cluster; c.SnapshotThreshold != 2000 || c.TrailingLogs != 500 || c.SnapshotInterval != 10*time.Second {
		t.Errorf("threshold %d, trailing %d, interval %s; want 2000, 500, 10s", c.SnapshotThreshold, c.TrailingLogs, c.SnapshotInterval)
	}
	for _, v := range []string{"-1", "1.5", "many"} {
		_, err := Parse("c.yaml", []byte(clusterBase+clusterSection+"  snapshot_threshold: "+v+"\n"), LoadOptions{Lookup: lookup})
		want := `cluster.snapshot_threshold: expected a whole number of 0 or more, got "` + v + `"`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("snapshot_threshold %s: Parse = %v, want %q", v, err, want)
		}
	}
}
