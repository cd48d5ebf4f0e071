package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pebbleBinary finds Pebble, the ACME test server (.ci/run installs it
// with go install; see docs/config.md).
func pebbleBinary(t *testing.T) string {
	if p, err := exec.LookPath("pebble"); err == nil {
		return p
	}
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	if p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "pebble"); fileExists(p) {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("pebble missing in CI: .ci/run must go install it")
	}
	t.Skip("pebble not installed (go install github.com/letsencrypt/pebble/v2/cmd/pebble@v2.7.0)")
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// Outpost obtains its certificate from an ACME CA (Pebble on loopback)
// on the first handshake for its domain.
func TestACMEWithPebble(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary and Pebble")
	}
	pebble := pebbleBinary(t)
	bin := outpostBinary(t)
	dir := t.TempDir()
	pki := newPKI(t)
	pki.issue(t, 1, filepath.Join(dir, "pebble-cert.pem"), filepath.Join(dir, "pebble-key.pem"))
	caPEM := filepath.Join(dir, "ca.pem")
	writePEM(t, caPEM, pki.ca.Raw)
	a := closedAddrs(t, 2)
	acmeAddr, mgmtAddr := a[0], a[1]
	pcfg, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress": acmeAddr, "managementListenAddress": mgmtAddr,
		"certificate": filepath.Join(dir, "pebble-cert.pem"), "privateKey": filepath.Join(dir, "pebble-key.pem"),
		"httpPort": 5002, "tlsPort": 5001, "externalAccountBindingRequired": false,
		"keyAlgorithm": "ecdsa", "profiles": map[string]any{"default": map[string]any{"description": "test", "validityPeriod": 7776000}},
	}})
	os.WriteFile(filepath.Join(dir, "pebble.json"), pcfg, 0o600)
	pc := exec.Command(pebble, "-config", filepath.Join(dir, "pebble.json"))
	// No challenge validation (nothing here answers on port 5002 for a real
	// domain), no artificial sleeps, no random nonce rejections.
	pc.Env = append(os.Environ(), "PEBBLE_VA_ALWAYS_VALID=1", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	var plog strings.Builder
	pc.Stdout, pc.Stderr = &plog, &plog
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Process.Kill(); _ = pc.Wait() })
	waitFor(t, 10*time.Second, "pebble to listen", func() bool {
		c, err := net.Dial("tcp", acmeAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, nil)

	listen := closedAddr(t)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
site: {title: ACME Status, url: "https://status.outpost.test"}
listen: %s
tls:
  acme: {domains: [status.outpost.test], email: ops@outpost.test, directory_url: "https://%s/dir", ca_file: ca.pem}
components: [{id: web, name: Web}]
`, listen, acmeAddr)), 0o600)
	cmd := exec.Command(bin, "serve", "-config", cfg)
	var olog strings.Builder
	cmd.Stderr = &olog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	// The first handshake for the domain makes autocert order a certificate.
	var leafIssuer string
	var names []string
	var lastErr error
	deadline := time.Now().Add(30 * time.Second)
	for got := false; !got; {
		if time.Now().After(deadline) {
			t.Fatalf("no certificate from the ACME CA in 30 s (last: %v)\noutpost:\n%s\npebble:\n%s", lastErr, olog.String(), plog.String())
		}
		got = func() bool {
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 20 * time.Second}, "tcp", listen,
				&tls.Config{ServerName: "status.outpost.test", InsecureSkipVerify: true}) //nolint:gosec // the issuer is checked below
			if err != nil {
				lastErr = err
				time.Sleep(200 * time.Millisecond)
				return false
			}
			defer conn.Close()
			leaf := conn.ConnectionState().PeerCertificates[0]
			leafIssuer, names = leaf.Issuer.CommonName, leaf.DNSNames
			return true
		}()
	}
	if !strings.Contains(strings.ToLower(leafIssuer), "pebble") || len(names) != 1 || names[0] != "status.outpost.test" {
		t.Fatalf("certificate issued by %q for %v\noutpost:\n%s\npebble:\n%s", leafIssuer, names, olog.String(), plog.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "acme")); err != nil {
		t.Errorf("no ACME cache beside the data file: %v", err)
	}
}
