package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/node"
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
	// Eight more checks, always up: enough open roll-ups that their bucket
	// has a page of its own.
	for i := range 8 {
		m.Checks = append(m.Checks, status.CheckDef{Name: fmt.Sprintf("shop-api-%d", i), Component: "shop", FailureThreshold: 1, SuccessThreshold: 1, Every: time.Second})
	}
	e := status.NewEngine(m, nil)
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for i := range 120 {
		o := probes.Down
		if i%2 == 1 {
			o = probes.Up
		}
		at = at.Add(time.Minute)
		b := status.Batch{Now: at, Results: []status.CheckResult{{Check: "shop-home", At: at, Result: probes.Result{Outcome: o, Reason: probes.ReasonOK}}}}
		for _, c := range m.Checks[1:] {
			b.Results = append(b.Results, status.CheckResult{Check: c.Name, At: at, Result: probes.Result{Outcome: probes.Up, Reason: probes.ReasonOK}})
		}
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
// serve, backup, export and verify: never a panic, a stack trace or a
// SIGBUS, never a silent fresh start, and never a serve that stays up
// retrying commits. The named patterns run the real binary; the seeded ones
// (64 random byte flips in pages in use and 4 zeroed pages) run in process.
func TestDamagedDataFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	good := healthyFile(t)
	ps, used, freelist, leaf := pages(t, good)
	flags := func(page int, v uint16) func([]byte) []byte {
		return func(b []byte) []byte { binary.NativeEndian.PutUint16(b[page*ps+8:], v); return b }
	}
	roots := bucketRoots(t, good)
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
		// What random flips did: a value the engine loads no longer
		// decodes ("invalid character", "parsing time").
		"incident value":    rewrite(t, "incidents", `{"id":"inc-1","started_at":"2026-0e-10T12:07:00Z"}`),
		"check state value": rewrite(t, "checks", `{"status":"operational","since":`),
		// The compact form (status/store/statecodec.go), cut short.
		"compact check state value": rewrite(t, "checks", "\x01\x02up\x80"),
		// A page only a commit touches (raw results were, before they moved
		// to the local file; the roll-ups made from them are): serve
		// started and retried commits forever (/healthz 503), export wrote
		// the site.
		"roll-ups zeroed": func(b []byte) []byte { clear(b[roots["hourly"]*ps:][:ps]); return b },
		// The same for the checks' open hours and days, which every
		// commit of results writes now.
		"open roll-ups zeroed": func(b []byte) []byte { clear(b[roots["open_rollups"]*ps:][:ps]); return b },
		// A key's size beyond the map: export died of "unexpected fault
		// address".
		"index key size": func(b []byte) []byte {
			binary.NativeEndian.PutUint32(b[roots["incident_starts"]*ps+16+16*10+8:], 0x7fff0000)
			return b
		},
	}
	bin := outpostBinary(t)
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data", "outpost.db")
			cfg := damagedSetup(t, dir, damage(bytes.Clone(good)))
			for _, args := range [][]string{{"serve"}, {"backup", "-out", filepath.Join(dir, "b.db")}, {"export", "-out", filepath.Join(dir, "site")}, {"verify"}} {
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
					<-done
					t.Errorf("%s did not exit on a damaged file:\n%s", args[0], tail(out.String()))
					continue
				}
				text := out.String()
				if code := cmd.ProcessState.ExitCode(); code != 1 {
					t.Errorf("%s: exit %d, want 1:\n%s", args[0], code, tail(text))
				}
				if !strings.Contains(text, data+" is damaged: restore a backup (docs/operations.md)") {
					t.Errorf("%s: no clear message:\n%s", args[0], tail(text))
				}
				if strings.Contains(text, "goroutine ") || strings.Contains(text, "panic") || strings.Contains(text, "SIGBUS") {
					t.Errorf("%s: a crash instead of a message:\n%s", args[0], tail(text))
				}
			}
		})
	}
	t.Run("seeded", func(t *testing.T) { seededDamage(t, good) })
}

// seededDamage flips one byte in a page in use (64 fixed seeds) or zeroes
// one such page (4 seeds), and holds every command to one verdict: verify
// says consistent or damaged, backup and export say the same, a damaged
// verdict is the clear message with exit 1, serve's start either refuses
// with that message (and verify agrees) or works, and a file verify passes
// takes a commit.
func seededDamage(t *testing.T, good []byte) {
	ps := int(binary.NativeEndian.Uint32(good[16+8:]))
	live := livePages(t, good)
	type pattern struct {
		name  string
		zero  bool
		apply func([]byte) []byte
	}
	var patterns []pattern
	for seed := uint64(1); seed <= 64; seed++ {
		r := rand.New(rand.NewPCG(seed, 25))
		i := r.IntN(len(live))
		at, x := live[i].id*ps+r.IntN(live[i].extent), byte(1+r.IntN(255))
		patterns = append(patterns, pattern{fmt.Sprintf("flip %d (page #%d +%d ^%#x)", seed, i, at%ps, x), false,
			func(b []byte) []byte { b[at] ^= x; return b }})
	}
	for seed := uint64(1); seed <= 4; seed++ {
		i := rand.New(rand.NewPCG(seed, 25)).IntN(len(live))
		p := live[i].id
		patterns = append(patterns, pattern{fmt.Sprintf("zero page #%d", i), true,
			func(b []byte) []byte { clear(b[p*ps:][:ps]); return b }})
	}
	damaged := 0
	for _, p := range patterns {
		dir := t.TempDir()
		data := filepath.Join(dir, "data", "outpost.db")
		bad := p.apply(bytes.Clone(good))
		cfgPath := damagedSetup(t, dir, bad)
		verdict := map[string]string{}
		for _, args := range [][]string{{"verify"}, {"backup", "-out", filepath.Join(dir, "b.db")}, {"export", "-out", filepath.Join(dir, "site")}} {
			os.WriteFile(data, bad, 0o600) // each command meets the same damage
			var out bytes.Buffer
			code := run(t.Context(), append(args, "-config", cfgPath), &out, &out)
			verdict[args[0]] = judge(code, out.String(), data)
		}
		if verdict["verify"] == "damaged" {
			damaged++
		} else if p.zero {
			t.Errorf("%s: a zeroed page in use passes verify", p.name)
		}
		for _, c := range []string{"verify", "backup", "export"} {
			if verdict[c] != verdict["verify"] || strings.HasPrefix(verdict[c], "wrong") {
				t.Errorf("%s: verify %s, backup %s, export %s", p.name, verdict["verify"], verdict["backup"], verdict["export"])
				break
			}
		}
		os.WriteFile(data, bad, 0o600)
		serveStart(t, p.name, cfgPath, data, verdict["verify"])
	}
	t.Logf("%d of %d patterns damaged the file", damaged, len(patterns))
	if damaged < 12 {
		t.Errorf("only %d of %d patterns damaged a file: the patterns test little", damaged, len(patterns))
	}
}

// judge reads a command's verdict: "consistent" (exit 0), "damaged" (exit 1
// with the clear message), or what went wrong.
func judge(code int, out, data string) string {
	switch {
	case code == 0:
		return "consistent"
	case code == 1 && strings.Contains(out, data+" is damaged: restore a backup (docs/operations.md)") && !strings.Contains(out, "goroutine "):
		return "damaged"
	}
	return fmt.Sprintf("wrong (exit %d: %s)", code, tail(out))
}

// serveStart builds the node serve builds (what it loads at start) and,
// when that works, commits a step as the running node would: a refusal is
// the clear message on a file verify finds damaged; a file verify passes
// starts and takes the commit.
func serveStart(t *testing.T, name, cfgPath, data, verdict string) {
	t.Helper()
	beats := probes.NewBeats(nil)
	cfg, err := config.Load(cfgPath, config.LoadOptions{Probe: probes.Options{Beats: beats}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Options{ConfigPath: cfgPath, Config: cfg, Beats: beats, Logger: slog.New(slog.DiscardHandler)})
	n.Close()
	if err != nil {
		if got := judge(1, err.Error(), data); got != "damaged" || verdict != "damaged" {
			t.Errorf("%s: serve refuses to start (%s) where verify says %s", name, got, verdict)
		}
		return
	}
	st, err := store.Open(data, store.Options{})
	if err != nil {
		t.Errorf("%s: serve starts but the store does not open again: %v", name, err)
		return
	}
	defer st.Close()
	at := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	e := status.NewEngine(cfg.Model(), nil)
	b := status.Batch{Now: at, Results: []status.CheckResult{{Check: "shop-home", At: at, Result: probes.Result{Outcome: probes.Down, Reason: probes.ReasonTimeout}}}}
	_, err = st.Apply(store.Entry{At: at, Step: store.NewStep(e.Apply(b), e.State(), nil)})
	switch {
	case err != nil && verdict != "damaged":
		t.Errorf("%s: verify says %s but a commit fails: %v", name, verdict, err)
	case err != nil && !errors.Is(err, store.ErrDamaged):
		t.Errorf("%s: a commit on a damaged file fails without the clear message: %v", name, err)
	}
}

// damagedSetup writes data as the data file of a config in dir, and the
// config (one tcp check on a closed local port, so every run fails and
// every step commits).
func damagedSetup(t *testing.T, dir string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, "data", "outpost.db")
	os.MkdirAll(filepath.Dir(path), 0o700)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yaml")
	a := closedAddrs(t, 3)
	os.WriteFile(cfg, []byte(fmt.Sprintf("site: {title: Damage}\nlisten: %s\noperators: {listen: %s}\ncomponents: [{id: shop, name: Shop}]\nchecks:\n  - {name: shop-home, component: shop, kind: tcp, target: %q, interval: 1s}\n",
		a[0], a[1], a[2])), 0o600)
	return cfg
}

// rewrite replaces the first value of a bucket with raw, through bbolt:
// the pages stay sound, the value no longer decodes.
func rewrite(t *testing.T, bucket, raw string) func([]byte) []byte {
	return func(b []byte) []byte {
		path := filepath.Join(t.TempDir(), "rewrite.db")
		os.WriteFile(path, b, 0o600)
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error {
			k, _ := tx.Bucket([]byte(bucket)).Cursor().First()
			return tx.Bucket([]byte(bucket)).Put(k, []byte(raw))
		})
		db.Close()
		out, rerr := os.ReadFile(path)
		if err != nil || rerr != nil {
			t.Fatal(err, rerr)
		}
		return out
	}
}

// bucketRoots maps "bucket" and "bucket/sub" to their root pages (0 for
// an inline bucket).
func bucketRoots(t *testing.T, data []byte) map[string]int {
	t.Helper()
	path := filepath.Join(t.TempDir(), "roots.db")
	os.WriteFile(path, data, 0o600)
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	roots := map[string]int{}
	db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			roots[string(name)] = int(b.Root())
			return b.ForEachBucket(func(k []byte) error {
				roots[string(name)+"/"+string(k)] = int(b.Bucket(k).Root())
				return nil
			})
		})
	})
	if roots["hourly"] == 0 || roots["incident_starts"] == 0 || roots["open_rollups"] == 0 {
		t.Fatalf("layout: the hourly roll-ups or the start index is inline: %v", roots)
	}
	return roots
}

type livePage struct{ id, extent int }

// livePages lists the pages in use with how far their content reaches, in
// the order of a walk of the tree (the root bucket, then each bucket's
// pages in key order) and then the freelist: bbolt's page ids differ from
// one build of the same content to the next, the walk's order does not, so
// a seed names the same damage in every run.
func livePages(t *testing.T, data []byte) []livePage {
	t.Helper()
	ps := int(binary.NativeEndian.Uint32(data[16+8:]))
	u16 := func(b []byte) int { return int(binary.NativeEndian.Uint16(b)) }
	u32 := func(b []byte) int { return int(binary.NativeEndian.Uint32(b)) }
	u64 := func(b []byte) int { return int(binary.NativeEndian.Uint64(b)) }
	root, free := u64(data[16+16:]), u64(data[16+32:])
	if u64(data[ps+16+48:]) > u64(data[16+48:]) { // the newer meta
		root, free = u64(data[ps+16+16:]), u64(data[ps+16+32:])
	}
	var out []livePage
	var walk func(id int)
	walk = func(id int) {
		p := data[id*ps:]
		flags, count := u16(p[8:]), u16(p[10:])
		lp := livePage{id: id, extent: 16 + 16*count}
		var children []int
		for i := range count {
			e := p[16+16*i:]
			if flags&0x01 != 0 { // branch element: pos, key size, child
				lp.extent = max(lp.extent, 16+16*i+u32(e)+u32(e[4:]))
				children = append(children, u64(e[8:]))
				continue
			}
			pos, ks, vs := u32(e[4:]), u32(e[8:]), u32(e[12:]) // leaf: flags, pos, sizes
			lp.extent = max(lp.extent, 16+16*i+pos+ks+vs)
			if u32(e)&1 != 0 && u64(e[pos+ks:]) != 0 { // a bucket with a page of its own
				children = append(children, u64(e[pos+ks:]))
			}
		}
		lp.extent = min(lp.extent, ps*(1+u32(p[12:])))
		out = append(out, lp)
		for _, c := range children {
			walk(c)
		}
	}
	walk(root)
	if free > 1 && free*ps < len(data) { // not "no freelist" (all ones)
		out = append(out, livePage{free, min(16+8*u16(data[free*ps+10:]), ps)})
	}
	return out
}

func tail(s string) string {
	if len(s) > 1500 {
		return "…" + s[len(s)-1500:]
	}
	return s
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
