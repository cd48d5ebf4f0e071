package node

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
)

// The node draws the site key at its first start and writes it through
// the log; a second start finds it and keeps it.
func TestSiteKeyIsMadeOnceAtStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	data := filepath.Join(dir, "outpost.db")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`
site: {title: Node Test}
listen: %s
storage: {path: %s}
components: [{id: shop, name: Shop}]
checks:
  - {name: shop-home, component: shop, kind: tcp, target: "%s", interval: 1m}
`, freePort(t), data, freePort(t))), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	start := func(now time.Time) []byte {
		t.Helper()
		n, err := New(Options{ConfigPath: path, Config: cfg, Beats: probes.NewBeats(nil), Logger: slog.New(slog.DiscardHandler), Version: "test",
			Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		n.Close()
		st, err := store.Open(data, store.Options{LockTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		keys, err := st.SiteKeys()
		cur, ok := keys.Current()
		if err != nil || len(keys) != 1 || !ok || len(cur.Secret) < 32 || !cur.Created.Equal(t0) {
			t.Fatalf("site keys after a start at %s: %+v (%v)", now, keys, err)
		}
		return cur.Secret
	}
	first := start(t0)
	if again := start(t0.Add(time.Hour)); !bytes.Equal(first, again) {
		t.Fatal("a second start replaced the site key")
	}
}
