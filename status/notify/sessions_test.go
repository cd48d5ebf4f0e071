package notify

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/store"
)

// A Bluesky session is the node's own (its refresh token rotates on every
// use, so two nodes cannot share one): StoredSessions keeps it in the
// store's local file, never in the replicated state a snapshot carries,
// and a restarted notifier refreshes it instead of creating one.
func TestStoredSessionsAreNodeLocal(t *testing.T) {
	pds := newFakePDS(t, "app-pass-word")
	st, err := store.Open(filepath.Join(t.TempDir(), "outpost.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sessions := StoredSessions{Store: st}
	b := NewBluesky(pds.srv.URL, "status.example.com", "app-pass-word", http.DefaultClient, sessions)
	m := xMessage("API is unavailable (investigating): we are investigating.", "")
	m.Event.At = time.Date(2026, 3, 10, 14, 2, 0, 0, time.UTC)
	if _, err := b.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	key := "bluesky/status.example.com/refresh"
	if v, err := st.LocalSetting(key); err != nil || v == "" || v != pds.refresh {
		t.Errorf("local setting %s = %q (%v), want the current refresh token %q", key, v, err, pds.refresh)
	}
	if v, err := st.Setting(key); err != nil || v != "" {
		t.Errorf("replicated setting %s = %q (%v), want none", key, v, err)
	}
	var snap bytes.Buffer
	if _, err := st.Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(snap.Bytes(), []byte(pds.refresh)) {
		t.Error("the snapshot of the replicated state carries the refresh token")
	}
	b2 := NewBluesky(pds.srv.URL, "status.example.com", "app-pass-word", http.DefaultClient, sessions)
	m.Seq = 13
	if _, err := b2.Send(context.Background(), m); err != nil || pds.creates != 1 {
		t.Fatalf("restart: %v, %d sessions created, want 1", err, pds.creates)
	}
}
