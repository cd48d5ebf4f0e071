package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `outpost serve` in a cluster warns at start of every certificate that
// ends within 30 days (the node's own and the CA), as `outpost check`
// does, so an operator reading the start-up log learns it in time; one
// with a year left says nothing of it.
func TestClusterServeWarnsOfExpiringCertificates(t *testing.T) {
	for _, tc := range []struct {
		days string
		warn bool
	}{{"10", true}, {"365", false}} {
		t.Run(tc.days+"d", func(t *testing.T) {
			dir := t.TempDir()
			if code, _, errs := runBinary(t, nil, "cluster", "certs", "-out", filepath.Join(dir, "cluster"), "-nodes", "ams,nyc,sgp", "-days", tc.days); code != exitOK {
				t.Fatalf("certs: %s", errs)
			}
			cfg, addrs := clusterFiles(t, dir, "127.0.0.1:9", 2)
			p := startClusterNode(t, cfg, "ams", addrs[3], addrs[6], filepath.Join(dir, "ams"))
			// "outpost serving" comes after the node is built: any start-up
			// warning is in the log by then.
			until(t, time.Now().Add(20*time.Second), []*clusterProc{p}, "start", func() bool { return strings.Contains(p.log(), "outpost serving") })
			logs := p.log()
			node := strings.Contains(logs, "cluster node certificate expires soon") && strings.Contains(logs, "days=9")
			ca := strings.Contains(logs, "cluster CA certificate expires soon")
			if node != tc.warn || ca != tc.warn {
				t.Fatalf("certificates valid %s days: node warning %v, CA warning %v, want %v; log:\n%s", tc.days, node, ca, tc.warn, logs)
			}
		})
	}
}
