package cluster

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/config"
)

// certsDir writes a CA and certificates for ids into a new folder.
func certsDir(t testing.TB, days int, ids ...string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := WriteCerts(CertOptions{Dir: dir, Nodes: ids, Days: days, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// nodeConfig loads a config whose cluster is ams, nyc and sgp, for node
// id, with the given CA bundle and the node's files from certDir.
func nodeConfig(t *testing.T, caFile, certDir, id string) *config.Config {
	t.Helper()
	src := fmt.Sprintf(`site: {title: T}
components: [{id: a, name: A}]
cluster:
  nodes:
    - {id: ams, address: "127.0.0.1:7001", location: eu-west}
    - {id: nyc, address: "127.0.0.1:7002", location: us-east}
    - {id: sgp, address: "127.0.0.1:7003", location: ap-southeast}
  tls: {ca_file: %q, cert_file: "%s/${OUTPOST_NODE}.pem", key_file: "%s/${OUTPOST_NODE}-key.pem"}
`, caFile, certDir, certDir)
	lookup := func(k string) (string, bool) { return id, k == config.NodeEnv }
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "c.yaml"), []byte(src), config.LoadOptions{Lookup: lookup})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func mustTLS(t *testing.T, cfg *config.Config) *tls.Config {
	t.Helper()
	c, err := TLSConfig(cfg, cfg.Cluster.Node)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// talk makes one connection from client to server on 127.0.0.1 and
// reports each side's failure; on success, the ids each side verified.
func talk(t *testing.T, server, client *tls.Config) (clientID, serverID string, clientErr, serverErr error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		id  string
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err != nil {
			done <- result{err: err}
			return
		}
		_, err = tc.Write([]byte{'k'})
		done <- result{id: PeerID(tc.ConnectionState()), err: err}
	}()
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), client)
	if err == nil {
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		// In TLS 1.3 the server judges the client's certificate after the
		// client's handshake returns: the first read tells.
		var b [1]byte
		if _, err = io.ReadFull(conn, b[:]); err == nil {
			clientID = PeerID(conn.ConnectionState())
		}
	}
	r := <-done
	return clientID, r.id, err, r.err
}

// Two nodes' certificates from WriteCerts connect both ways, each side
// verifying the other's node id; TLS 1.3 only.
func TestNodesConnectBothWays(t *testing.T) {
	dir := certsDir(t, 90, "ams", "nyc")
	ams := mustTLS(t, nodeConfig(t, filepath.Join(dir, "ca.pem"), dir, "ams"))
	nyc := mustTLS(t, nodeConfig(t, filepath.Join(dir, "ca.pem"), dir, "nyc"))
	if ams.MinVersion != tls.VersionTLS13 || ams.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Errorf("MinVersion %x ClientAuth %v", ams.MinVersion, ams.ClientAuth)
	}
	for _, tc := range []struct {
		name           string
		server, client *tls.Config
		sID, cID       string
	}{{"ams dials nyc", nyc, ams, "nyc", "ams"}, {"nyc dials ams", ams, nyc, "ams", "nyc"}} {
		clientSaw, serverSaw, cErr, sErr := talk(t, tc.server, tc.client)
		if cErr != nil || sErr != nil || clientSaw != tc.sID || serverSaw != tc.cID {
			t.Errorf("%s: client saw %q (%v), server saw %q (%v)", tc.name, clientSaw, cErr, serverSaw, sErr)
		}
	}
	// A dialer that names the node it means gets that node, and refuses
	// any other member.
	want := ams.Clone()
	want.ServerName = "nyc"
	if clientSaw, serverSaw, cErr, sErr := talk(t, nyc, want); cErr != nil || sErr != nil || clientSaw != "nyc" || serverSaw != "ams" {
		t.Errorf("dialing nyc by name: client saw %q (%v), server saw %q (%v)", clientSaw, cErr, serverSaw, sErr)
	}
	want.ServerName = "sgp"
	if _, _, cErr, _ := talk(t, nyc, want); cErr == nil || !strings.Contains(cErr.Error(), `"sgp"`) {
		t.Errorf("dialing sgp, answered by nyc: %v", cErr)
	}
	old := ams.Clone()
	old.MinVersion, old.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	if _, _, cErr, sErr := talk(t, nyc, old); cErr == nil || sErr == nil {
		t.Errorf("TLS 1.2 accepted: client %v server %v", cErr, sErr)
	}
}

// stranger presents the certificate in dir/id.pem and checks nothing of
// the other side: a hostile peer, so only our side's checks decide.
func stranger(t *testing.T, dir, id string) *tls.Config {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, id+".pem"), filepath.Join(dir, id+"-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true, ClientAuth: tls.RequireAnyClientCert,
		MinVersion: tls.VersionTLS13,
		// Sent even when the server asks for certificates of other CAs.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }}
}

// A certificate of another cluster (another CA, same ids) is refused in
// both directions; so is one of this CA for an id not among the nodes.
func TestStrangersAreRefused(t *testing.T) {
	ours, theirs := certsDir(t, 90, "ams", "nyc", "fra"), certsDir(t, 90, "ams", "nyc")
	ams := mustTLS(t, nodeConfig(t, filepath.Join(ours, "ca.pem"), ours, "ams"))
	for _, tc := range []struct {
		name, dir, id, want string
	}{
		{"another cluster's nyc", theirs, "nyc", "certificate signed by unknown authority"},
		{"our CA's fra, no member", ours, "fra", `peer certificate for "fra" is not among cluster.nodes`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := stranger(t, tc.dir, tc.id)
			if _, serverSaw, _, sErr := talk(t, ams, bad); sErr == nil || !strings.Contains(sErr.Error(), tc.want) {
				t.Errorf("it dials us: we accepted %q (%v), want %q", serverSaw, sErr, tc.want)
			}
			if clientSaw, _, cErr, _ := talk(t, bad, ams); cErr == nil || !strings.Contains(cErr.Error(), tc.want) {
				t.Errorf("we dial it: we accepted %q (%v), want %q", clientSaw, cErr, tc.want)
			}
		})
	}
	// Two nodes configured for different clusters do not talk either.
	foreign := mustTLS(t, nodeConfig(t, filepath.Join(theirs, "ca.pem"), theirs, "nyc"))
	if _, _, cErr, sErr := talk(t, ams, foreign); cErr == nil || sErr == nil {
		t.Errorf("two clusters' nodes: client %v, server %v", cErr, sErr)
	}
	if _, err := TLSConfig(nodeConfig(t, filepath.Join(ours, "ca.pem"), ours, "ams"), "fra"); err == nil {
		t.Error("TLSConfig for a node id not among cluster.nodes")
	}
}

// A key file others may read is refused, as ssh refuses one.
func TestKeyReadableByOthersIsRefused(t *testing.T) {
	dir := certsDir(t, 90, "ams")
	cfg := nodeConfig(t, filepath.Join(dir, "ca.pem"), dir, "ams")
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604} {
		if err := os.Chmod(filepath.Join(dir, "ams-key.pem"), mode); err != nil {
			t.Fatal(err)
		}
		_, err := TLSConfig(cfg, "ams")
		want := fmt.Sprintf("ams-key.pem is readable by others (mode %04o); chmod 600 it", mode)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("mode %04o: %v, want %q", mode, err, want)
		}
	}
	os.Chmod(filepath.Join(dir, "ams-key.pem"), 0o400)
	if _, err := TLSConfig(cfg, "ams"); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
}

// Files that do not fit are named: a certificate of another CA than the
// bundle's, one for another node, a bundle with no certificate.
func TestMisfitFilesAreNamed(t *testing.T) {
	ours, theirs := certsDir(t, 90, "ams", "nyc"), certsDir(t, 90, "ams")
	empty := filepath.Join(t.TempDir(), "empty.pem")
	os.WriteFile(empty, []byte("not pem\n"), 0o644)
	nycAsAms := t.TempDir()
	for from, to := range map[string]string{"nyc.pem": "ams.pem", "nyc-key.pem": "ams-key.pem"} {
		b, _ := os.ReadFile(filepath.Join(ours, from))
		os.WriteFile(filepath.Join(nycAsAms, to), b, 0o600)
	}
	for _, tc := range []struct {
		name, ca, dir, want string
	}{
		{"other CA", filepath.Join(theirs, "ca.pem"), ours, "is not signed by a CA in"},
		{"no CA", empty, ours, "holds no certificate"},
		{"missing CA", filepath.Join(ours, "nope.pem"), ours, "nope.pem"},
		{"wrong node", filepath.Join(ours, "ca.pem"), nycAsAms, `names "nyc", not this node "ams"`},
	} {
		_, err := TLSConfig(nodeConfig(t, tc.ca, tc.dir, "ams"), "ams")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// Rotation without downtime: with a bundle of the old and the new CA, a
// node still on an old certificate and one on a new certificate talk;
// once every node has a new certificate the old CA is dropped, and a
// straggler on an old certificate is refused.
func TestRotationWithoutDowntime(t *testing.T) {
	old, fresh := certsDir(t, 90, "ams", "nyc"), certsDir(t, 90, "ams", "nyc")
	both := filepath.Join(t.TempDir(), "ca.pem")
	a, _ := os.ReadFile(filepath.Join(old, "ca.pem"))
	b, _ := os.ReadFile(filepath.Join(fresh, "ca.pem"))
	os.WriteFile(both, append(a, b...), 0o644)

	// Step 1: every node trusts both CAs; ams still has its old certificate.
	amsOld := mustTLS(t, nodeConfig(t, both, old, "ams"))
	nycNew := mustTLS(t, nodeConfig(t, both, fresh, "nyc"))
	for name, pair := range map[string][2]*tls.Config{"old dials new": {nycNew, amsOld}, "new dials old": {amsOld, nycNew}} {
		if _, _, cErr, sErr := talk(t, pair[0], pair[1]); cErr != nil || sErr != nil {
			t.Errorf("bundle of both, %s: client %v server %v", name, cErr, sErr)
		}
	}
	// Step 2: every node has a new certificate; the old CA is dropped.
	amsNew := mustTLS(t, nodeConfig(t, filepath.Join(fresh, "ca.pem"), fresh, "ams"))
	nycOnly := mustTLS(t, nodeConfig(t, filepath.Join(fresh, "ca.pem"), fresh, "nyc"))
	if _, _, cErr, sErr := talk(t, nycOnly, amsNew); cErr != nil || sErr != nil {
		t.Errorf("new certificates, new CA only: client %v server %v", cErr, sErr)
	}
	if _, _, _, sErr := talk(t, nycOnly, amsOld); sErr == nil {
		t.Error("an old certificate accepted after the old CA was dropped")
	}
}

// Expiry reports the node's certificate and every CA in the bundle; Warn
// logs those that end within 30 days.
func TestExpiryWarning(t *testing.T) {
	soon, later := certsDir(t, 20, "ams"), certsDir(t, 400, "ams")
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	a, _ := os.ReadFile(filepath.Join(soon, "ca.pem"))
	b, _ := os.ReadFile(filepath.Join(later, "ca.pem"))
	os.WriteFile(bundle, append(a, b...), 0o644)
	for _, tc := range []struct {
		name, ca, dir string
		warnings      int
		want          []string
	}{
		{"all far", filepath.Join(later, "ca.pem"), later, 0, nil},
		{"leaf and a CA soon", bundle, soon, 2, []string{"node certificate", "CA certificate", "days=19", "ams.pem"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := nodeConfig(t, tc.ca, tc.dir, "ams")
			exp, err := Expiry(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(exp.CAs) != strings.Count(mustRead(t, tc.ca), "BEGIN CERTIFICATE") || exp.Leaf.IsZero() {
				t.Fatalf("expiry %+v", exp)
			}
			var logs bytes.Buffer
			n := exp.Warn(slog.New(slog.NewTextHandler(&logs, nil)), time.Now().Add(time.Hour))
			if n != tc.warnings || strings.Count(logs.String(), "level=WARN") != tc.warnings {
				t.Errorf("%d warnings, want %d:\n%s", n, tc.warnings, logs.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, logs.String())
				}
			}
		})
	}
	if _, err := Expiry(nodeConfig(t, filepath.Join(soon, "gone.pem"), soon, "ams")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Expiry with a missing bundle: %v", err)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
