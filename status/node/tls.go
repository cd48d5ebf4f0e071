package node

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"github.com/outpost-status/outpost/status/config"
)

// certFiles serves a certificate from files and picks up renewals: a
// handshake re-reads the pair when either file's mtime has changed, at most
// once a second. A broken new pair is logged and the old one kept.
type certFiles struct {
	cert, key string
	log       *slog.Logger

	mu      sync.Mutex
	current *tls.Certificate
	stamp   string
	checked time.Time
}

func newCertFiles(cert, key string, log *slog.Logger) (*certFiles, error) {
	c := &certFiles{cert: cert, key: key, log: log}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certFiles) mtimes() string {
	var b strings.Builder
	for _, p := range []string{c.cert, c.key} {
		if fi, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "%d/%d;", fi.ModTime().UnixNano(), fi.Size())
		}
	}
	return b.String()
}

func (c *certFiles) load() error {
	stamp := c.mtimes()
	pair, err := tls.LoadX509KeyPair(c.cert, c.key)
	if err != nil {
		return fmt.Errorf("load TLS key pair %s, %s: %w", c.cert, c.key, err)
	}
	c.current, c.stamp, c.checked = &pair, stamp, time.Now()
	return nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (c *certFiles) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.checked) >= time.Second {
		c.checked = time.Now()
		if c.mtimes() != c.stamp {
			if err := c.load(); err != nil {
				c.log.Error("new TLS certificate rejected; keeping the current one", "error", err)
			} else {
				c.log.Info("TLS certificate reloaded", "cert", c.cert)
			}
		}
	}
	return c.current, nil
}

// tlsSetup returns the TLS config for listen and the handler for the
// optional plain-HTTP listener (a redirect, plus ACME challenges).
func tlsSetup(t config.TLS, listen string, log *slog.Logger) (*tls.Config, http.Handler, error) {
	redirect := redirectHandler(listen)
	if t.ACME != nil {
		m := &autocert.Manager{Prompt: autocert.AcceptTOS, HostPolicy: autocert.HostWhitelist(t.ACME.Domains...),
			Cache: autocert.DirCache(t.ACME.CacheDir), Email: t.ACME.Email}
		client := &acme.Client{DirectoryURL: t.ACME.DirectoryURL}
		if t.ACME.CAFile != "" {
			pem, err := os.ReadFile(t.ACME.CAFile)
			if err != nil {
				return nil, nil, fmt.Errorf("acme ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, nil, fmt.Errorf("acme ca_file %s holds no PEM certificate", t.ACME.CAFile)
			}
			client.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
		}
		if client.DirectoryURL != "" || client.HTTPClient != nil {
			m.Client = client
		}
		cfg := m.TLSConfig()
		cfg.MinVersion = tls.VersionTLS12
		return cfg, m.HTTPHandler(redirect), nil
	}
	cf, err := newCertFiles(t.CertFile, t.KeyFile, log)
	if err != nil {
		return nil, nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cf.GetCertificate, NextProtos: []string{"h2", "http/1.1"}}, redirect, nil
}

// redirectHandler sends plain-HTTP visitors to the HTTPS listener.
func redirectHandler(listen string) http.Handler {
	_, port, _ := net.SplitHostPort(listen)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		if port != "443" {
			host += ":" + port
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}

// hsts tells browsers to use HTTPS only, once they have reached us over it.
func hsts(next http.Handler) http.Handler {
	v := []string{"max-age=31536000"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Strict-Transport-Security"] = v
		next.ServeHTTP(w, r)
	})
}
