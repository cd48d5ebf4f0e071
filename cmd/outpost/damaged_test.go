package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// healthyFile writes a data file with history: 60 incidents, so the
// incidents bucket has pages of its own.
func healthyFile(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "healthy.db")
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := &status.Model{AutoIncidents: true, ReopenWindow: time.Second,
		Components: []status.ComponentDef{{ID: "shop", Name: "Shop"}},
		Checks:     []status.CheckDef{{Name: "shop-home", Component: "shop", FailureThreshold: 1, SuccessThreshold: 1, Every: time.Second}}}
	e := status.NewEngine(m, nil)
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for i := range 120 {
		o := probes.Down
		if i%2 == 1 {
			o = probes.Up
		}
		at = at.Add(time.Minute)
		b := status.Batch{Now: at, Results: []status.CheckResult{{Check: "shop-home", At: at, Result: probes.Result{Outcome: o, Reason: probes.ReasonOK}}}}
		if _, err := st.Apply(store.Entry{At: at, Step: store.NewStep(e.Apply(b), e.State(), nil)}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// pages finds, in a healthy file, the freelist page and a leaf page of the
// incidents bucket.
func pages(t *testing.T, data []byte) (pageSize, used, freelist, incidentLeaf int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "probe.db")
	os.WriteFile(path, data, 0o600)
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pageSize = db.Info().PageSize
	err = db.View(func(tx *bolt.Tx) error {
		used = int(tx.Size()) // the pages in use; the file may have slack after them
		for id := 2; id < int(tx.Size())/pageSize; id++ {
			if p, err := tx.Page(id); err == nil && p != nil && p.Type == "freelist" {
				freelist = id
			}
		}
		root := tx.Bucket([]byte("incidents")).Root()
		p, err := tx.Page(int(root))
		if err != nil || p == nil {
			return fmt.Errorf("incidents root page %d: %v", root, err)
		}
		if p.Type != "leaf" && p.Type != "branch" {
			return fmt.Errorf("incidents root page is %s", p.Type)
		}
		incidentLeaf = int(root)
		return nil
	})
	if err != nil || freelist == 0 || incidentLeaf == 0 {
		t.Fatalf("layout: %v (freelist %d, incidents %d)", err, freelist, incidentLeaf)
	}
	return pageSize, used, freelist, incidentLeaf
}

// Damaged and empty data files end in a clear message and exit 1 from
// serve, backup and export: never a panic, a stack trace or a SIGBUS, and
// never a silent fresh start.
func TestDamagedDataFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	good := healthyFile(t)
	ps, used, freelist, leaf := pages(t, good)
	flags := func(page int, v uint16) func([]byte) []byte {
		return func(b []byte) []byte { binary.NativeEndian.PutUint16(b[page*ps+8:], v); return b }
	}
	cases := map[string]func([]byte) []byte{
		"empty":               func([]byte) []byte { return nil },
		"truncated to half":   func(b []byte) []byte { return b[:used/2] },
		"truncated by a page": func(b []byte) []byte { return b[:used-ps] },
		"truncated in a meta": func(b []byte) []byte { return b[:ps+100] },
		"freelist flags":      flags(freelist, 0x02),
		"incidents leaf":      flags(leaf, 0x20),
		"both metas": func(b []byte) []byte {
			b[16+4] ^= 0xff     // version of meta 0
			b[ps+16+60] ^= 0xff // checksum of meta 1
			return b
		},
	}
	bin := outpostBinary(t)
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data", "outpost.db")
			os.MkdirAll(filepath.Dir(data), 0o700)
			if err := os.WriteFile(data, damage(bytes.Clone(good)), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(dir, "config.yaml")
			os.WriteFile(cfg, []byte(fmt.Sprintf("site: {title: Damage}\nlisten: %s\ncomponents: [{id: shop, name: Shop}]\nchecks:\n  - {name: shop-home, component: shop, kind: tcp, target: %q, interval: 1s}\n",
				closedAddr(t), closedAddr(t))), 0o600)
			for _, args := range [][]string{{"serve"}, {"backup", "-out", filepath.Join(dir, "b.db")}, {"export", "-out", filepath.Join(dir, "site")}} {
				cmd := exec.Command(bin, append(args, "-config", cfg)...)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				done := make(chan error, 1)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				go func() { done <- cmd.Wait() }()
				select {
				case <-done:
				case <-time.After(20 * time.Second):
					_ = cmd.Process.Kill()
					t.Fatalf("%s did not exit on a damaged file:\n%s", args[0], out.String())
				}
				text := out.String()
				if code := cmd.ProcessState.ExitCode(); code != 1 {
					t.Errorf("%s: exit %d, want 1:\n%s", args[0], code, text)
				}
				if !strings.Contains(text, data+" is damaged: restore a backup (docs/operations.md)") {
					t.Errorf("%s: no clear message:\n%s", args[0], text)
				}
				if strings.Contains(text, "goroutine ") || strings.Contains(text, "panic") || strings.Contains(text, "SIGBUS") {
					t.Errorf("%s: a crash instead of a message:\n%s", args[0], text)
				}
			}
		})
	}
}

// outpost verify reads every page: a healthy file passes, and damage the
// start-up check does not look for (a leaf page of the incidents bucket)
// is found with the clear message.
func TestVerifyCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	good := healthyFile(t)
	ps, _, _, leaf := pages(t, good)
	bad := bytes.Clone(good)
	binary.NativeEndian.PutUint16(bad[leaf*ps+8:], 0x20)
	bin := outpostBinary(t)
	for _, tc := range []struct {
		name string
		data []byte
		code int
		want string
	}{{"healthy", good, 0, "is consistent"}, {"damaged leaf", bad, 1, "is damaged: restore a backup (docs/operations.md)"}} {
		dir := t.TempDir()
		data := filepath.Join(dir, "data", "outpost.db")
		os.MkdirAll(filepath.Dir(data), 0o700)
		os.WriteFile(data, tc.data, 0o600)
		cfg := filepath.Join(dir, "config.yaml")
		os.WriteFile(cfg, []byte("site: {title: Verify}\ncomponents: [{id: shop, name: Shop}]\n"), 0o600)
		out, err := exec.Command(bin, "verify", "-config", cfg).CombinedOutput()
		code := 0
		if err != nil {
			code = err.(*exec.ExitError).ExitCode()
		}
		if code != tc.code || !strings.Contains(string(out), tc.want) || strings.Contains(string(out), "goroutine ") {
			t.Errorf("%s: exit %d, output:\n%s", tc.name, code, out)
		}
	}
}
