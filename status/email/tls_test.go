package email

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/notify"
)

// selfSigned makes a certificate for 127.0.0.1 and a client config
// trusting only it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

func TestTLSModes(t *testing.T) {
	srvTLS, cliTLS := selfSigned(t)
	for _, tc := range []struct {
		name      string
		mode      TLSMode
		serverTLS *tls.Config
		delivered bool
	}{
		{"starttls with AUTH PLAIN", StartTLS, srvTLS, true},
		{"implicit TLS with AUTH PLAIN", ImplicitTLS, srvTLS, true},
		{"starttls refused by a server without it: nothing in clear", StartTLS, nil, false},
		{"wrong password: retried, not given up", StartTLS, srvTLS, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mta := &fakeMTA{password: "s3cret", tls: tc.serverTLS}
			cfg := serveMode(t, mta, tc.mode)
			if tc.serverTLS == nil {
				cfg = serveMode(t, mta, NoTLS)
				cfg.TLS = StartTLS
			}
			cfg.Username, cfg.Password = "outpost", "s3cret"
			if tc.name == "wrong password: retried, not given up" {
				cfg.Password = "wrong"
			}
			tr, err := NewTransport(TransportOptions{SMTP: cfg, Concurrency: 1, Timeout: 5 * time.Second, TLSConfig: cliTLS, HELO: "outpost.test"})
			if err != nil {
				t.Fatal(err)
			}
			out := tr.Send(context.Background(), batch(t, 3))
			_, _, accepted := mta.counts()
			for i, o := range out {
				if tc.delivered && o.Err != nil {
					t.Errorf("message %d: %v", i, o.Err)
				}
				if !tc.delivered && (o.Err == nil || notify.Judge(o.Err).Permanent) {
					t.Errorf("message %d: %v: want a retry", i, o.Err)
				}
			}
			mta.mu.Lock()
			clear := mta.clear
			mta.mu.Unlock()
			if clear != 0 || (tc.delivered && accepted != 3) || (!tc.delivered && accepted != 0) {
				t.Errorf("%d accepted, %d transactions in clear", accepted, clear)
			}
			tr.Close() // a delivered batch's session waits in the pool until then
			waitClosed(t, mta)
		})
	}
}

// waitClosed waits until the server has seen every session end: a session
// that failed to open (refused STARTTLS, failed AUTH) leaves no
// connection behind.
func waitClosed(t *testing.T, mta *fakeMTA) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mta.mu.Lock()
		active := mta.active
		mta.mu.Unlock()
		if active == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still open on the server after Send returned", active)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
