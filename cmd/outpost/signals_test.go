package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// With a probe stalled in flight, SIGTERM waits for it; a second SIGTERM
// exits at once; the data file opens cleanly afterwards.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	bin := outpostBinary(t)
	stalled := make(chan struct{}, 16)
	release := make(chan struct{})
	defer close(release)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	stall := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stalled <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})}
	go stall.Serve(ln)
	defer stall.Close()

	listen := closedAddr(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
site: {title: Signals}
listen: %s
components: [{id: slow, name: Slow}]
checks:
  - {name: slow-1, component: slow, kind: http, target: "http://%s/", interval: 3s, timeout: 2500ms}
`, listen, ln.Addr())), 0o600)
	p := startOutpost(t, bin, cfg, listen)
	select {
	case <-stalled: // a probe is now in flight, stuck for up to 2.5 s
	case <-time.After(10 * time.Second):
		t.Fatalf("the probe never ran\n%s", p.log())
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, 5*time.Second, "the shutdown to begin", func() bool { return strings.Contains(p.log(), "shutting down") }, p)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("exited (%v) before the in-flight probe finished", err)
	case <-time.After(300 * time.Millisecond):
	}
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	var exitErr *exec.ExitError
	select {
	case err := <-done:
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != exitFailed {
			t.Fatalf("second signal: %v, want exit %d", err, exitFailed)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a second signal did not exit at once")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v to exit after the second signal", d)
	}
	// The file is intact: Outpost starts on it again.
	p2 := startOutpost(t, bin, cfg, listen)
	_ = p2.cmd.Process.Signal(syscall.SIGTERM)
}
