package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runBinary runs the compiled outpost with args and env added to the
// test's environment; it returns the exit code and both outputs.
func runBinary(t testing.TB, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), outpostBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("%v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// `outpost cluster certs` writes the CA and each node's files, keys
// private, and overwrites nothing without -force.
func TestClusterCertsCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cluster")
	code, out, errs := runBinary(t, nil, "cluster", "certs", "-out", dir, "-nodes", "ams,nyc,sgp", "-days", "30")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	modes := map[string]os.FileMode{"ca.pem": 0o644}
	for _, id := range []string{"ams", "nyc", "sgp"} {
		modes[id+".pem"], modes[id+"-key.pem"] = 0o644, 0o600
	}
	for name, mode := range modes {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v (%v), want mode %04o", name, fi, err, mode)
		} else if !strings.Contains(out, filepath.Join(dir, name)) {
			t.Errorf("output does not list %s:\n%s", name, out)
		}
	}
	ca, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	code, _, errs = runBinary(t, nil, "cluster", "certs", "-out", dir, "-nodes", "ams,fra")
	if code != exitFailed || !strings.Contains(errs, "ca.pem, ams.pem, ams-key.pem") || !strings.Contains(errs, "-force") {
		t.Errorf("second run: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "fra.pem")); err == nil {
		t.Error("a refused run wrote fra.pem")
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "ca.pem")); !bytes.Equal(now, ca) {
		t.Error("ca.pem overwritten without -force")
	}
	if code, _, errs = runBinary(t, nil, "cluster", "certs", "-out", dir, "-nodes", "ams", "-force"); code != exitOK {
		t.Errorf("-force: exit %d: %s", code, errs)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "ca.pem")); bytes.Equal(now, ca) {
		t.Error("ca.pem not replaced with -force")
	}
	for _, args := range [][]string{
		{"cluster", "certs", "-out", dir},
		{"cluster", "certs", "-nodes", "a"},
		{"cluster", "certs", "-out", t.TempDir(), "-nodes", "Ams"},
		{"cluster", "frob"},
		{"cluster"},
	} {
		if code, _, errs := runBinary(t, nil, args...); code != exitConfig {
			t.Errorf("%v: exit %d, want %d: %s", args, code, exitConfig, errs)
		}
	}
}

// clusterConfig writes certificates for ams, nyc and sgp and a config
// whose cluster names them, its TLS files by ${OUTPOST_NODE}.
func clusterConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if code, _, errs := runBinary(t, nil, "cluster", "certs", "-out", filepath.Join(dir, "cluster"), "-nodes", "ams,nyc,sgp"); code != exitOK {
		t.Fatalf("cluster certs: %s", errs)
	}
	addrs := closedAddrs(t, 5)
	cfg := filepath.Join(dir, "config.yaml")
	body := fmt.Sprintf(`site: {title: T}
listen: %s
operators: {listen: %s}
storage: {path: data/outpost.db}
components: [{id: a, name: A}]
cluster:
  nodes:
    - {id: ams, address: "%s", location: eu-west}
    - {id: nyc, address: "%s", location: us-east}
    - {id: sgp, address: "%s", location: ap-southeast}
  tls: {ca_file: cluster/ca.pem, cert_file: "cluster/${OUTPOST_NODE}.pem", key_file: "cluster/${OUTPOST_NODE}-key.pem"}
`, addrs[0], addrs[1], addrs[2], addrs[3], addrs[4])
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// -node sets OUTPOST_NODE for the config (over the environment's), so
// ${OUTPOST_NODE} picks the node's own files; a cluster needs a member's id.
func TestNodeFlag(t *testing.T) {
	cfg := clusterConfig(t)
	certs := filepath.Join(filepath.Dir(cfg), "cluster")
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"flag", nil, []string{"-node", "nyc"}, exitOK, "node nyc, " + filepath.Join(certs, "nyc.pem")},
		{"env", []string{"OUTPOST_NODE=sgp"}, nil, exitOK, "node sgp, " + filepath.Join(certs, "sgp.pem")},
		{"flag wins", []string{"OUTPOST_NODE=sgp"}, []string{"--node", "ams"}, exitOK, "node ams, " + filepath.Join(certs, "ams.pem")},
		{"none", []string{"OUTPOST_NODE="}, nil, exitConfig, "cluster.nodes: this node's id is not set: run with -node ID or set OUTPOST_NODE (one of ams, nyc, sgp)"},
		{"stranger", nil, []string{"-node", "fra"}, exitConfig, `cluster.nodes: no node has the id "fra" given by -node or OUTPOST_NODE`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runBinary(t, tc.env, append([]string{"check", "-config", cfg}, tc.args...)...)
			if code != tc.code || !strings.Contains(out+errs, tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s%s", code, tc.code, tc.want, out, errs)
			}
		})
	}
	os.Chmod(filepath.Join(certs, "nyc-key.pem"), 0o644)
	code, _, errs := runBinary(t, nil, "check", "-config", cfg, "-node", "nyc")
	if want := "nyc-key.pem is readable by others (mode 0644); chmod 600 it"; code != exitConfig || !strings.Contains(errs, want) {
		t.Errorf("check with a world-readable key: exit %d: %s", code, errs)
	}
	// Every command that reads the config takes -node.
	backup := filepath.Join(t.TempDir(), "b.db")
	for _, args := range [][]string{{"backup", "-out", backup}, {"export", "-out", t.TempDir()}, {"probe"}} {
		code, _, errs := runBinary(t, nil, append(args, "-config", cfg, "-node", "stranger")...)
		if code != exitConfig || !strings.Contains(errs, `"stranger"`) {
			t.Errorf("%s -node stranger: exit %d: %s", args[0], code, errs)
		}
	}
}
