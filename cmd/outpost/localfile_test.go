package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// `outpost backup` copies the replicated file, what a restore needs: no
// raw result (node-local) is in the copy, and no local file is left
// beside it. `outpost verify` checks both files: damage in the local file
// fails it, naming that file, while backup, which does not copy it, works.
func TestBackupCopiesTheReplicatedFileVerifyChecksBoth(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data", "outpost.db")
	cfg := writeConfig(t, fmt.Sprintf("site: {title: T}\nstorage: {path: %s}\ncomponents: [{id: db, name: DB}]\n", data))
	st, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	ch := &status.Changes{Results: []status.CheckResult{{Check: "db-port", At: at, Result: probes.Result{Outcome: probes.Down, Reason: probes.ReasonTimeout, Message: "raw-only-marker"}}}}
	if _, err := st.Apply(store.Entry{At: at, Step: store.NewStep(ch, status.NewState(), nil)}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	var out bytes.Buffer
	backup := filepath.Join(t.TempDir(), "b.db")
	if code := run(t.Context(), []string{"backup", "-config", cfg, "-out", backup}, &out, &out); code != exitOK {
		t.Fatalf("backup: exit %d: %s", code, out.String())
	}
	if raw, err := os.ReadFile(backup); err != nil || bytes.Contains(raw, []byte("raw-only-marker")) {
		t.Errorf("the backup holds a raw result (%v): it copied node-local data", err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(backup), "*")); len(left) != 1 {
		t.Errorf("files beside the backup: %v, want only it", left)
	}
	out.Reset()
	if code := run(t.Context(), []string{"verify", "-config", cfg}, &out, &out); code != exitOK {
		t.Fatalf("verify of sound files: exit %d: %s", code, out.String())
	}

	local := data + ".local"
	raw, err := os.ReadFile(local)
	if err != nil {
		t.Fatalf("no local file: %v", err)
	}
	if err := os.WriteFile(local, raw[:len(raw)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run(t.Context(), []string{"verify", "-config", cfg}, &out, &out); code != exitFailed || !strings.Contains(out.String(), local+" is damaged") {
		t.Errorf("verify of a truncated local file: exit %d: %s", code, out.String())
	}
	out.Reset()
	if code := run(t.Context(), []string{"backup", "-config", cfg, "-out", backup}, &out, &out); code != exitOK {
		t.Errorf("backup with a damaged local file (not copied): exit %d: %s", code, out.String())
	}
}
