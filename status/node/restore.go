package node

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// continueRestore finishes a restore from a backup. The store only notes
// the restore when it opens the file; the first entry applied to it draws
// the floor every sequence continues above, from that entry's time (so
// every applier of the same entries draws the same one). The node writes
// that entry, recording the restore in the audit log, before the monitor
// loads the engine's state: an engine loaded before it would hand out ids
// from below the floor, which the lost file may have published.
func continueRestore(st *store.Store, changes store.Log, now time.Time, log *slog.Logger) error {
	r, ok := st.Restored()
	if !ok {
		return nil
	}
	if r.Floor == 0 {
		audit := status.AuditEntry{At: now, Actor: "outpost", Action: "restore", Target: "data file",
			Detail: "restored from a backup taken at " + r.BackupAt.Format(time.RFC3339)}
		if _, err := changes.Apply(store.Entry{At: now, Audit: []status.AuditEntry{audit}}); err != nil {
			return fmt.Errorf("cannot continue the restored backup's sequences: %w", err)
		}
		r, _ = st.Restored()
	}
	log.Warn("the data file is a restored backup: ids and announcement keys continue above a new floor, so none repeats",
		slog.Time("backup_at", r.BackupAt), slog.Uint64("floor", r.Floor))
	return nil
}
