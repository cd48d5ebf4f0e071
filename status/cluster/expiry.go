package cluster

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/outpost-status/outpost/status/config"
)

// WarnBefore is how long before a certificate ends Warn starts warning:
// time to run the rotation in docs/operations.md.
const WarnBefore = 30 * 24 * time.Hour

// Expiries are when a node's certificates end: its own and each CA of the
// bundle (for `cluster status` and /metrics).
type Expiries struct {
	LeafFile string
	Leaf     time.Time
	CAFile   string
	CAs      []CAExpiry
}

// CAExpiry is one CA of the bundle.
type CAExpiry struct {
	Subject  string
	NotAfter time.Time
}

// Expiry reads the NotAfter of this node's certificate and of every CA in
// the bundle.
func Expiry(cfg *config.Config) (Expiries, error) {
	if cfg.Cluster == nil {
		return Expiries{}, fmt.Errorf("the config has no cluster section")
	}
	t := cfg.Cluster.TLS
	leaf, err := readCerts(t.CertFile)
	if err != nil {
		return Expiries{}, fmt.Errorf("cluster.tls.cert_file: %w", err)
	}
	_, cas, err := loadBundle(t.CAFile)
	if err != nil {
		return Expiries{}, err
	}
	e := Expiries{LeafFile: t.CertFile, Leaf: leaf[0].NotAfter, CAFile: t.CAFile}
	for _, c := range cas {
		e.CAs = append(e.CAs, CAExpiry{Subject: c.Subject.CommonName, NotAfter: c.NotAfter})
	}
	return e, nil
}

// Warn logs a warning for each certificate that ends within WarnBefore of
// now (or has ended) and returns how many it logged.
func (e Expiries) Warn(log *slog.Logger, now time.Time) int {
	n := 0
	warn := func(what, file, subject string, end time.Time) {
		if end.Sub(now) >= WarnBefore {
			return
		}
		n++
		log.Warn("cluster "+what+" expires soon: rotate it (docs/operations.md)", slog.String("file", file),
			slog.String("subject", subject), slog.Time("not_after", end), slog.Int("days", int(end.Sub(now)/(24*time.Hour))))
	}
	warn("node certificate", e.LeafFile, "", e.Leaf)
	for _, ca := range e.CAs {
		warn("CA certificate", e.CAFile, ca.Subject, ca.NotAfter)
	}
	return n
}
