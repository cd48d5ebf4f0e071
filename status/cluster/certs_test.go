package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s holds no certificate", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// WriteCerts makes a CA limited to signing the nodes' certificates and
// one certificate per node, good as server and client, naming the node.
func TestWriteCerts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cluster")
	files, err := WriteCerts(CertOptions{Dir: dir, Nodes: []string{"ams", "nyc"}, Days: 90, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ca.pem", "ams.pem", "ams-key.pem", "nyc.pem", "nyc-key.pem"}
	for i := range want {
		want[i] = filepath.Join(dir, want[i])
	}
	if !slices.Equal(files, want) {
		t.Fatalf("files %v, want %v", files, want)
	}
	ca := readCert(t, filepath.Join(dir, "ca.pem"))
	if !ca.IsCA || !ca.BasicConstraintsValid || ca.MaxPathLen != 0 || !ca.MaxPathLenZero || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA not constrained: IsCA %v MaxPathLen %d zero %v usage %v", ca.IsCA, ca.MaxPathLen, ca.MaxPathLenZero, ca.KeyUsage)
	}
	if got := ca.NotAfter.Sub(testNow); got != 90*24*time.Hour {
		t.Errorf("CA valid for %v after now, want 90 days", got)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, id := range []string{"ams", "nyc"} {
		leaf := readCert(t, filepath.Join(dir, id+".pem"))
		if leaf.Subject.CommonName != id || !slices.Equal(leaf.DNSNames, []string{id}) || leaf.IsCA {
			t.Errorf("%s: CN %q DNS %v IsCA %v", id, leaf.Subject.CommonName, leaf.DNSNames, leaf.IsCA)
		}
		if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) || !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
			t.Errorf("%s: ext key usage %v, want server and client", id, leaf.ExtKeyUsage)
		}
		if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
			t.Errorf("%s: key %T, want ECDSA P-256", id, leaf.PublicKey)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: id, CurrentTime: testNow,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("%s does not verify against the CA: %v", id, err)
		}
		fi, err := os.Stat(filepath.Join(dir, id+"-key.pem"))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s key: mode %v (%v), want 0600", id, fi.Mode(), err)
		}
	}
}

// Existing files are not overwritten (none is written) unless Force.
func TestWriteCertsKeepsExistingFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := WriteCerts(CertOptions{Dir: dir, Nodes: []string{"ams"}, Days: 30, Now: testNow}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	_, err := WriteCerts(CertOptions{Dir: dir, Nodes: []string{"nyc", "ams"}, Days: 30, Now: testNow})
	if err == nil || !strings.Contains(err.Error(), "ca.pem") || !strings.Contains(err.Error(), "-force") {
		t.Fatalf("second run: %v, want a refusal naming ca.pem and -force", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nyc.pem")); !os.IsNotExist(err) {
		t.Errorf("a refused run wrote nyc.pem (%v)", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "ca.pem")); string(after) != string(before) {
		t.Error("ca.pem changed without force")
	}
	os.Chmod(filepath.Join(dir, "ams-key.pem"), 0o644)
	if _, err := WriteCerts(CertOptions{Dir: dir, Nodes: []string{"ams"}, Days: 30, Now: testNow, Force: true}); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "ca.pem")); string(after) == string(before) {
		t.Error("ca.pem not replaced with force")
	}
	if fi, _ := os.Stat(filepath.Join(dir, "ams-key.pem")); fi.Mode().Perm() != 0o600 {
		t.Errorf("a forced key has mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestWriteCertsRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes []string
		days  int
		want  string
	}{
		{"no nodes", nil, 30, "at least one node"},
		{"bad id", []string{"ams", "NYC"}, 30, `node id "NYC"`},
		{"duplicate", []string{"ams", "ams"}, 30, `node "ams" twice`},
		{"ca clashes", []string{"ca"}, 30, "ca.pem"},
		{"key clashes", []string{"a", "a-key"}, 30, "a-key.pem"},
		{"no days", []string{"ams"}, 0, "-days"},
		{"too many days", []string{"ams"}, 40000, "-days"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := WriteCerts(CertOptions{Dir: dir, Nodes: tc.nodes, Days: tc.days, Now: testNow})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("a refused run left %d files", len(left))
			}
		})
	}
}
