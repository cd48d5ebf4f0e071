package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// runHealthcheck is the Docker HEALTHCHECK: the image has no shell or curl,
// so the binary asks its own /healthz.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, path := newFlags("healthcheck", stderr)
	url := fs.String("url", "", "health URL (default: http://<listen>/healthz from the config)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for an answer")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *url == "" {
		cfg, ok := loadConfigFor(*path, stderr, anyField)
		if !ok {
			return exitConfig
		}
		scheme := "http"
		if cfg.TLS.Enabled() {
			scheme = "https"
		}
		*url = scheme + "://" + dialable(cfg.Listen) + "/healthz"
		if cfg.Cluster != nil && !cfg.Operators.Off() {
			// Liveness only: a member cut off from the others answers 503
			// on the public /healthz (readers go elsewhere), but is alive
			// and must not be restarted for it.
			*url = "http://" + dialable(cfg.Operators.Listen) + "/healthz"
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return exitConfig
	}
	// A liveness probe of our own listener over loopback: the certificate
	// names the public host, not 127.0.0.1, so it is not verified here.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // loopback self-check
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return exitFailed
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: %s: %s %s\n", *url, resp.Status, body)
		return exitFailed
	}
	fmt.Fprintf(stdout, "healthy: %s\n", body)
	return exitOK
}

// dialable turns a listen address into one a client can dial: a wildcard
// host (":8080", "0.0.0.0:8080") becomes loopback.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, port)
}
