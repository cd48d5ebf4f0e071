package mtatest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// Sessions counts the SMTP sessions the instance has accepted so far:
// smtpd's "connect from" lines in its mail log, the readiness probes of
// Start included, so compare a count taken before what is measured with
// one taken after (once the mail is delivered, its sessions are logged).
// It is the server's own count, not the client's.
func (s *Server) Sessions() (int, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "maillog"))
	if err != nil {
		return 0, fmt.Errorf("mtatest: mail log: %w", err)
	}
	return bytes.Count(b, []byte("]: connect from ")), nil
}
