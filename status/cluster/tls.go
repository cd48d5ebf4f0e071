package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/outpost-status/outpost/status/config"
)

// maxPEMFile bounds what is read of a CA bundle or certificate file: a
// bundle of a few CAs is a few kilobytes.
const maxPEMFile = 1 << 20

// TLSConfig is the node connection's mutual TLS for node nodeID: one
// config both to serve and to dial, TLS 1.3 only, each side presenting
// its node certificate and accepting only a certificate that chains to a
// CA of the bundle (several while one is rotated out) and names a member
// of cluster.nodes. A dialer that sets ServerName to a node id accepts
// only that node. PeerID tells whom a connection is with.
func TLSConfig(cfg *config.Config, nodeID string) (*tls.Config, error) {
	var ids []string
	if cfg.Cluster != nil {
		ids = cfg.Cluster.IDs()
	}
	return tlsConfig(cfg, nodeID, func(id string) bool { return slices.Contains(ids, id) })
}

// tlsConfig is TLSConfig with the members asked at each handshake: a
// running member's list changes with a reload of cluster.nodes.
func tlsConfig(cfg *config.Config, nodeID string, member func(id string) bool) (*tls.Config, error) {
	cl := cfg.Cluster
	if cl == nil {
		return nil, errors.New("the config has no cluster section")
	}
	if !cl.Member(nodeID) {
		return nil, fmt.Errorf("node %q is not among cluster.nodes", nodeID)
	}
	roots, _, err := loadBundle(cl.TLS.CAFile)
	if err != nil {
		return nil, err
	}
	pair, err := loadPair(cl.TLS, nodeID, roots)
	if err != nil {
		return nil, err
	}
	base := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{pair},
		RootCAs:      roots,
		ClientCAs:    roots,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		// Go's server check needs a host name to match and nodes are
		// dialed by address: the dialer's check is verifyPeer below
		// (VerifyConnection runs whatever InsecureSkipVerify says).
		InsecureSkipVerify: true,
	}
	server := base.Clone()
	server.VerifyConnection = func(cs tls.ConnectionState) error {
		return verifyPeer(cs, roots, member, "", x509.ExtKeyUsageClientAuth)
	}
	// GetConfigForClient runs only on the serving side: the one place
	// where a handshake knows which side it is.
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return server, nil }
	base.VerifyConnection = func(cs tls.ConnectionState) error {
		return verifyPeer(cs, roots, member, cs.ServerName, x509.ExtKeyUsageServerAuth)
	}
	return base, nil
}

// PeerID is the node id the other side's certificate names, once
// TLSConfig's checks have passed ("" before the handshake).
func PeerID(cs tls.ConnectionState) string {
	if len(cs.PeerCertificates) == 0 {
		return ""
	}
	return cs.PeerCertificates[0].Subject.CommonName
}

// verifyPeer checks the other side's certificate: it chains to a CA of
// the bundle for usage, names a member (CommonName and DNS name), and is
// want's when want is set.
func verifyPeer(cs tls.ConnectionState, roots *x509.CertPool, member func(string) bool, want string, usage x509.ExtKeyUsage) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("cluster: the peer presented no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return fmt.Errorf("cluster: peer certificate: %w", err)
	}
	id := leaf.Subject.CommonName
	if !member(id) || leaf.VerifyHostname(id) != nil {
		return fmt.Errorf("cluster: peer certificate for %q is not among cluster.nodes", id)
	}
	if want != "" && id != want {
		return fmt.Errorf("cluster: dialed node %q, answered by %q", want, id)
	}
	return nil
}

// loadBundle reads every certificate of a CA bundle.
func loadBundle(path string) (*x509.CertPool, []*x509.Certificate, error) {
	certs, err := readCerts(path)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster.tls.ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, certs, nil
}

// loadPair loads this node's certificate and key after checking that the
// key is private to its owner, that the certificate names nodeID and that
// it chains to the bundle: a misfit is named now, not at a peer's refusal.
func loadPair(t config.ClusterTLS, nodeID string, roots *x509.CertPool) (tls.Certificate, error) {
	fi, err := os.Stat(t.KeyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cluster.tls.key_file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return tls.Certificate{}, fmt.Errorf("key file %s is readable by others (mode %04o); chmod 600 it", t.KeyFile, perm)
	}
	pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cluster.tls: cannot load %s and %s: %w", t.CertFile, t.KeyFile, err)
	}
	leaf := pair.Leaf
	if id := leaf.Subject.CommonName; id != nodeID || leaf.VerifyHostname(nodeID) != nil {
		return tls.Certificate{}, fmt.Errorf("cluster.tls.cert_file: %s names %q, not this node %q", t.CertFile, id, nodeID)
	}
	usages := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	for _, u := range usages {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{u}}); err != nil {
			return tls.Certificate{}, fmt.Errorf("cluster.tls.cert_file: %s is not signed by a CA in cluster.tls.ca_file, or not for this use: %w", t.CertFile, err)
		}
	}
	return pair, nil
}

// readCerts parses every CERTIFICATE block of a PEM file.
func readCerts(path string) ([]*x509.Certificate, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxPEMFile {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a certificate file", path, maxPEMFile)
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s holds no certificate", path)
	}
	return certs, nil
}
