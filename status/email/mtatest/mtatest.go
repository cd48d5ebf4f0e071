// Package mtatest runs a real mail server for tests, as net/http/httptest
// runs a real HTTP server: a private instance of Debian's Postfix on a
// loopback port that accepts mail for any domain, queues it to disk and
// delivers it into a Maildir the test reads. It is not ours, so a test
// that passes against it passes against an MTA that owes us nothing.
//
// The instance needs root (Postfix's master does) and the postfix
// package; without it the test is skipped, except under CI=true, where
// .ci/run installs it and its absence fails the test.
package mtatest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// masterBin is Postfix's resident daemon in Debian's postfix package.
const masterBin = "/usr/lib/postfix/sbin/master"

// How long the instance gets to come up and to go away.
const (
	readyTimeout = 15 * time.Second
	stopTimeout  = 10 * time.Second
)

// Server is a running Postfix instance.
type Server struct {
	dir  string
	addr string
	cmd  *exec.Cmd
	done chan struct{} // closed when master has exited

	stopOnce sync.Once
	stopErr  error
}

// Start runs a private Postfix instance for the test and stops it, with
// every process it started, in t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	requirePostfix(t)
	if os.Geteuid() != 0 {
		skipOrFail(t, "Postfix's master needs root")
	}
	var errs []error
	// A free port found by listening can be taken by another process
	// before master binds it; a few attempts make that harmless.
	for range 3 {
		s, err := start(t)
		if err == nil {
			return s
		}
		errs = append(errs, err)
		if !errors.Is(err, errExited) {
			break
		}
	}
	t.Fatalf("mtatest: postfix did not start: %v", errors.Join(errs...))
	return nil
}

// errExited says master gave up before answering, as it does when its
// port was taken meanwhile.
var errExited = errors.New("master exited")

// requirePostfix skips without the postfix package, or fails under CI.
func requirePostfix(t testing.TB) {
	t.Helper()
	for _, p := range []string{masterBin, smtpSourceBin, postfixFiles} {
		if _, err := os.Stat(p); err != nil {
			skipOrFail(t, fmt.Sprintf("no %s (apt-get install postfix)", p))
		}
	}
}

func skipOrFail(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("mtatest in CI: %s; .ci/run must install postfix and run as root", why)
	}
	t.Skip("mtatest: " + why)
}

// start makes one attempt: config, queue directories, master, readiness.
func start(t testing.TB) (*Server, error) {
	dir, err := instanceDir(t)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := writeConfig(dir, port); err != nil {
		return nil, err
	}
	etc := filepath.Join(dir, "etc")
	s := &Server{dir: dir, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), done: make(chan struct{})}
	if err := s.run(t, etc); err != nil {
		return nil, err
	}
	if err := s.ready(); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w\n%s", err, s.log())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mtatest: postfix log:\n%s", s.log())
		}
		if err := s.stop(); err != nil {
			t.Errorf("mtatest: %v", err)
		}
	})
	return s, nil
}

// instanceDir makes a directory the postfix user can traverse (its
// daemons run as that user), removed in cleanup. t.TempDir's are 0700.
func instanceDir(t testing.TB) (string, error) {
	dir, err := os.MkdirTemp("", "mtatest")
	if err != nil {
		return "", fmt.Errorf("instance directory: %w", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("instance directory: %w", err)
	}
	return dir, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// run starts master as our child; -s keeps its stdout, where postlogd
// writes the mail log (maillog_file = /dev/stdout). A parent-death signal
// would not outlive master's first change of user id, so the bound on an
// instance left behind by a test binary that died is master's own -e:
// it exits by itself shortly after the test binary's deadline.
func (s *Server) run(t testing.TB, etc string) error {
	logf, err := os.Create(filepath.Join(s.dir, "maillog"))
	if err != nil {
		return fmt.Errorf("mail log: %w", err)
	}
	args := []string{"-c", etc, "-s"}
	// testing.TB has no Deadline; *testing.T and *testing.B do.
	if dt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if d, ok := dt.Deadline(); ok {
			args = append(args, "-e", strconv.Itoa(int(time.Until(d)/time.Second)+10))
		}
	}
	cmd := exec.Command(masterBin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start master: %w", err)
	}
	s.cmd = cmd
	go func() {
		cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	return nil
}

// ready waits until smtpd answers with its 220 greeting, or master exits.
func (s *Server) ready() error {
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := s.greet()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no SMTP greeting on %s within %v: %w", s.addr, readyTimeout, err)
		}
		select {
		case <-s.done:
			return fmt.Errorf("%w before %s answered: %w", errExited, s.addr, err)
		case <-tick.C:
		}
	}
}

func (s *Server) greet() error {
	c, err := net.DialTimeout("tcp", s.addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	if !strings.HasPrefix(line, "220 ") {
		return fmt.Errorf("greeting %q", line)
	}
	fmt.Fprint(c, "QUIT\r\n")
	return nil
}

// stop sends master SIGTERM (it passes it to its process group, every
// daemon it started) and waits until no process of the group is still
// running, so the port is closed and nothing writes into the directory
// being removed. Once: a test may stop an instance before its cleanup.
func (s *Server) stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.terminate() })
	return s.stopErr
}

// terminate is stop's one run.
func (s *Server) terminate() error {
	pgid := s.cmd.Process.Pid // master makes itself a session leader
	s.cmd.Process.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(stopTimeout)
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	// The daemons are master's children: once it has gone, init reaps
	// them, not us, and there is no event to wait on but their state.
	for runningInGroup(pgid) {
		if time.Now().After(deadline) {
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-s.done
			return fmt.Errorf("postfix instance %s did not stop within %v; killed", s.addr, stopTimeout)
		}
		<-tick.C
	}
	return nil
}

// runningInGroup says whether a process of group pgid is alive. Exited
// daemons stay zombies until init reaps them, which can take seconds;
// a zombie holds no socket and writes no file, so it does not count.
func runningInGroup(pgid int) bool {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // gone meanwhile
		}
		// After the command name in parentheses: state, ppid, pgrp.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(b[i+1:]))
		if len(fields) >= 3 && fields[0] != "Z" && fields[2] == strconv.Itoa(pgid) {
			return true
		}
	}
	return false
}

// Addr is the instance's SMTP address, host:port on 127.0.0.1.
func (s *Server) Addr() string { return s.addr }

// log is the instance's mail log so far, for a failing test.
func (s *Server) log() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "maillog"))
	if err != nil {
		return "(no mail log: " + err.Error() + ")"
	}
	return string(bytes.TrimSpace(b))
}
