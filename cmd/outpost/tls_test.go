package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testPKI is a CA made for one test, issuing loopback certificates.
type testPKI struct {
	ca   *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newPKI(t *testing.T) *testPKI {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Outpost test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &testPKI{ca: ca, key: key, pool: pool}
}

// issue writes a 127.0.0.1 certificate with serial to cert and key files,
// replacing them by rename as a renewal tool would.
func (p *testPKI) issue(t *testing.T, serial int64, certPath, keyPath string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	for path, data := range map[string][]byte{
		certPath: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPath:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}),
	} {
		if err := os.WriteFile(path+".new", data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTLSTermination(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	bin := outpostBinary(t)
	dir := t.TempDir()
	pki := newPKI(t)
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pki.issue(t, 100, certPath, keyPath)
	a := closedAddrs(t, 2)
	listen, plainAddr := a[0], a[1]
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
site: {title: TLS Status}
listen: %s
tls: {cert_file: cert.pem, key_file: key.pem, http_listen: "%s"}
components: [{id: web, name: Web}]
`, listen, plainAddr)), 0o600)

	// A fresh transport per request, so each sees the certificate in force.
	fresh := func() *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.pool}}, Timeout: 5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	p := startOutpostWith(t, bin, cfg, "https://"+listen, fresh())
	r, err := fresh().Get(p.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.TLS.PeerCertificates[0].SerialNumber.Int64() != 100 || r.Header.Get("Strict-Transport-Security") != "max-age=31536000" {
		t.Fatalf("serial %v, HSTS %q", r.TLS.PeerCertificates[0].SerialNumber, r.Header.Get("Strict-Transport-Security"))
	}

	r, err = fresh().Get("http://" + plainAddr + "/history?page=2")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	_, port, _ := net.SplitHostPort(listen)
	if want := "https://127.0.0.1:" + port + "/history?page=2"; r.StatusCode != http.StatusPermanentRedirect || r.Header.Get("Location") != want {
		t.Fatalf("redirect: %d %q, want 308 %q", r.StatusCode, r.Header.Get("Location"), want)
	}

	// A renewed certificate on disk is served without a restart.
	pki.issue(t, 200, certPath, keyPath)
	waitFor(t, 10*time.Second, "the renewed certificate", func() bool {
		r, err := fresh().Get(p.base + "/healthz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.TLS.PeerCertificates[0].SerialNumber.Int64() == 200
	}, p)

	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"healthcheck", "-config", cfg}, &out, &errb); code != exitOK {
		t.Fatalf("healthcheck over TLS: exit %d: %s", code, errb.String())
	}
}

func writePEM(t *testing.T, path string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
