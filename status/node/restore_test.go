package node

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
)

// A node started on a restored backup writes the first entry after the
// restore, stamped by its own clock, before the monitor loads the engine:
// that entry's time is the floor every sequence continues above, so the
// first id the engine hands out is the one right above it, whatever the
// wall clock read when the file was opened.
func TestRestoredNodeContinuesAboveItsFirstEntry(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	data := filepath.Join(dir, "outpost.db")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`
site: {title: Node Test}
listen: %s
operators: {listen: %s}
storage: {path: %s}
components: [{id: shop, name: Shop}]
checks:
  - {name: shop-home, component: shop, kind: tcp, target: "%s", interval: 1h}
`, freePort(t), freePort(t), data, freePort(t))), 0o600); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	st, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := store.MarkBackup(data, t0); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Hour)
	n, err := New(Options{ConfigPath: path, Config: cfg, Beats: probes.NewBeats(nil), Logger: slog.New(slog.DiscardHandler), Version: "test",
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	floor := uint64(now.UnixMilli())
	if r, ok := n.st.Restored(); !ok || r.Floor != floor || !r.BackupAt.Equal(t0) {
		t.Errorf("Restored() = %+v, %v; want the floor %d of the node's first entry", r, ok, floor)
	}
	if err := n.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("the node did not stop")
		}
	}()
	doCtx, doCancel := context.WithTimeout(ctx, 10*time.Second)
	defer doCancel()
	replies, err := n.mon.Do(doCtx, status.Command{Kind: status.CreateIncident, Name: "Checkout errors"})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("inc-%d", floor+1); replies[0].IncidentID != want {
		t.Errorf("the first incident after the restore is %q, want %q (right above the first entry's time)", replies[0].IncidentID, want)
	}
	audit, err := n.st.AuditLog(10, time.Time{})
	if err != nil || len(audit) == 0 || audit[len(audit)-1].Action != "restore" {
		t.Errorf("the restore is not in the audit log: %+v (%v)", audit, err)
	}
}
