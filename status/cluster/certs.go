// Package cluster holds what several Outposts need to trust each other:
// the certificates `outpost cluster certs` makes, and the mutual-TLS
// configuration of the node connection (the consensus itself comes later,
// on hashicorp/raft).
package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/outpost-status/outpost/status/config"
)

// CertOptions say what WriteCerts makes.
type CertOptions struct {
	Dir   string    // written into, created (0700) if missing
	Nodes []string  // node ids, as in cluster.nodes
	Days  int       // validity of the CA and of every certificate
	Force bool      // replace existing files
	Now   time.Time // the start of validity
}

// MaxDays bounds -days: a hundred years is already no expiry at all.
const MaxDays = 36500

// clockSkew backdates NotBefore, so a node whose clock is a little behind
// the machine that made the certificates accepts them at once.
const clockSkew = 5 * time.Minute

// pemFile is one file to write.
type pemFile struct {
	name string
	mode os.FileMode
	data []byte
}

// WriteCerts makes a new CA and, for each node, a certificate and key
// signed by it, and writes DIR/ca.pem, DIR/ID.pem and DIR/ID-key.pem
// (keys 0600). Without Force it writes nothing if any file exists. The
// CA's key is not written: nothing can sign another certificate for this
// CA later, and adding a node is a rotation to a new CA (docs/operations.md).
// It returns the paths written.
func WriteCerts(o CertOptions) ([]string, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	files, err := makeCerts(o)
	if err != nil {
		return nil, err
	}
	if !o.Force {
		var exist []string
		for _, f := range files {
			if _, err := os.Lstat(filepath.Join(o.Dir, f.name)); err == nil {
				exist = append(exist, f.name)
			}
		}
		if len(exist) > 0 {
			return nil, fmt.Errorf("%s already holds %s: not overwritten (use -force to replace them)", o.Dir, strings.Join(exist, ", "))
		}
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("certificates folder: %w", err)
	}
	var written []string
	for _, f := range files {
		path := filepath.Join(o.Dir, f.name)
		if err := writeFile(path, f, o.Force); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}

// Check refuses node ids config would refuse, ids given twice, ids whose
// files would clash (a node "ca", nodes "a" and "a-key") and a validity
// out of range, before anything is made.
func (o CertOptions) Check() error {
	if len(o.Nodes) == 0 {
		return errors.New("at least one node is required (-nodes a,b,c)")
	}
	names := map[string]string{"ca.pem": "the CA"}
	for _, id := range o.Nodes {
		if !config.ValidNodeID(id) {
			return fmt.Errorf("node id %q: must be a lower-case slug: letters, digits and inner dashes", id)
		}
		for _, name := range []string{id + ".pem", id + "-key.pem"} {
			if other, ok := names[name]; ok {
				if other == id {
					return fmt.Errorf("node %q twice", id)
				}
				return fmt.Errorf("node %q: its file %s would clash with %s's", id, name, other)
			}
			names[name] = id
		}
	}
	if o.Days < 1 || o.Days > MaxDays {
		return fmt.Errorf("-days must be between 1 and %d, got %d", MaxDays, o.Days)
	}
	return nil
}

// makeCerts makes the CA and the nodes' certificates in memory.
func makeCerts(o CertOptions) ([]pemFile, error) {
	notBefore, notAfter := o.Now.Add(-clockSkew), o.Now.Add(time.Duration(o.Days)*24*time.Hour)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	// The CA signs node certificates only: no intermediate under it
	// (MaxPathLen 0), and a name of its own so a bundle's CAs are told apart.
	ca := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "Outpost cluster CA " + hex.EncodeToString(serial.Bytes()[:4])},
		NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true, MaxPathLen: 0, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	files := []pemFile{{name: "ca.pem", mode: 0o644, data: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}}
	for _, id := range o.Nodes {
		cert, key, err := makeLeaf(id, ca, caKey, notBefore, notAfter)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", id, err)
		}
		files = append(files, pemFile{name: id + ".pem", mode: 0o644, data: cert}, pemFile{name: id + "-key.pem", mode: 0o600, data: key})
	}
	return files, nil
}

// makeLeaf makes a node's certificate: its id as CommonName and DNS name,
// good for serving and for dialing, since every node does both.
func makeLeaf(id string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, notBefore, notAfter time.Time) (cert, key []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: id}, DNSNames: []string{id},
		NotBefore: notBefore, NotAfter: notAfter, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, fmt.Errorf("key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), nil
}

// newSerial is a random 128-bit serial number, as RFC 5280 asks (unique
// per CA, positive, at most 20 bytes).
func newSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return s.Add(s, big.NewInt(1<<32)), nil // at least 4 bytes, for the CA's name
}

// writeFile writes f beside path and moves it into place: with its mode
// from the start (a key is never readable by others, even for a moment),
// and, without force, by a link that fails if path appeared meanwhile.
func writeFile(path string, f pemFile, force bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".outpost-cert-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(f.mode)
	if err == nil {
		_, err = tmp.Write(f.data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && force {
		err = os.Rename(tmp.Name(), path)
	} else if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
