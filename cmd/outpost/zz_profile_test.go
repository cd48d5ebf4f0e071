package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

func TestZZProfile(t *testing.T) {
	if os.Getenv("ZZ") == "" {
		t.Skip()
	}
	components := 5000
	checks := 5000
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	var cfg strings.Builder
	listen, ops := freeAddr(t), freeAddr(t)
	fmt.Fprintf(&cfg, "site: {title: Scale}\nlisten: %s\noperators: {listen: %q}\nstorage: {path: %s}\ncomponents:\n", listen, ops, filepath.Join(t.TempDir(), "o.db"))
	for i := range components {
		fmt.Fprintf(&cfg, "  - {id: c%d, name: Component %d, group: Group %d}\n", i, i, i/10)
	}
	cfg.WriteString("checks:\n")
	for i := range checks {
		fmt.Fprintf(&cfg, "  - {name: check-%05d, component: c%d, kind: http, target: \"http://%s/\", interval: 30s, timeout: 5s}\n", i, i%components, ln.Addr())
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(path, []byte(cfg.String()), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go run(ctx, []string{"serve", "-config", path}, io.Discard, io.Discard)
	time.Sleep(40 * time.Second)
	f, _ := os.Create("/tmp/cpu.prof")
	pprof.StartCPUProfile(f)
	time.Sleep(30 * time.Second)
	pprof.StopCPUProfile()
	runtime.GC()
	h, _ := os.Create("/tmp/heap.prof")
	pprof.WriteHeapProfile(h)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("heap inuse %d MiB, sys %d MiB", ms.HeapInuse>>20, ms.Sys>>20)
}
