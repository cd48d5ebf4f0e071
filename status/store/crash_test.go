package store

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
)

// The crash child is this test binary re-run with this variable set; the
// variable is read only here, in test code.
const crashChildEnv = "OUTPOST_STORE_CRASH_CHILD"

const resultsPerBatch = 20

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		os.Exit(crashChild(path))
	}
	os.Exit(m.Run())
}

// crashChild applies batch after batch, printing "ack N" after each commit,
// until it is killed.
func crashChild(path string) int {
	s, err := Open(path, Options{LockTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st, err := s.LoadState(base, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	route := func(status.Event) []Dest { return []Dest{{Name: "ops"}} }
	for i := st.Seq + 1; ; i++ {
		at := base.Add(time.Duration(i) * time.Second)
		ch := &status.Changes{Events: []status.Event{{ID: fmt.Sprintf("evt-%d", i), Seq: i, Type: status.IncidentUpdated, At: at}}}
		for j := range resultsPerBatch {
			ch.Results = append(ch.Results, status.CheckResult{Check: "c", At: at.Add(time.Duration(j) * time.Millisecond),
				Result: probes.Result{Outcome: probes.Down, Reason: probes.ReasonTimeout, Message: strings.Repeat("x", 200)}})
		}
		st.Seq = i
		if err := step(s, ch, st, route, at); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("ack %d\n", i)
	}
}

func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var lastAck uint64
	for round := range 20 {
		acked := runAndKill(t, path, 1+rng.IntN(30), time.Duration(rng.IntN(3000))*time.Microsecond)
		if acked > 0 {
			lastAck = acked
		}
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		if errs := s.Check(); len(errs) != 0 {
			t.Fatalf("round %d: bbolt consistency check: %v", round, errs)
		}
		st, err := s.LoadState(time.Now(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if st.Seq < lastAck {
			t.Fatalf("round %d: acknowledged batch %d lost (store has %d)", round, lastAck, st.Seq)
		}
		// Each batch is all or nothing: one outbox row per committed batch,
		// and its raw results whole or not at all. They reach the local
		// file in a commit of their own after the entry's, so a kill
		// between the two loses one batch's raw results (at most one per
		// round), never an acknowledged one's.
		rs, _ := s.Results("c", time.Time{}, time.Now().Add(100*365*24*time.Hour), 1<<30)
		rows, _ := s.Unfinished(1 << 30)
		n := uint64(len(rs))
		if n%resultsPerBatch != 0 || n > resultsPerBatch*st.Seq || n+resultsPerBatch*uint64(round+1) < resultsPerBatch*st.Seq || uint64(len(rows)) != st.Seq {
			t.Fatalf("round %d: %d batches committed but %d results and %d outbox rows", round, st.Seq, len(rs), len(rows))
		}
		s.Close()
	}
	if lastAck == 0 {
		t.Fatal("the child never acknowledged a batch")
	}
	t.Logf("20 SIGKILLs, %d batches acknowledged, none lost", lastAck)
}

// runAndKill starts the child, waits for n acknowledgements and a little
// more, then SIGKILLs it and returns the last batch it acknowledged.
func runAndKill(t *testing.T, path string, n int, extra time.Duration) uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acks := make(chan uint64, 1024)
	go func() {
		defer close(acks)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
				n, _ := strconv.ParseUint(v, 10, 64)
				acks <- n
			}
		}
	}()
	var last uint64
	deadline := time.After(20 * time.Second)
	for seen := 0; seen < n; seen++ {
		select {
		case a, ok := <-acks:
			if !ok {
				t.Fatalf("child exited early: %s", stderr.String())
			}
			last = a
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatalf("child acknowledged only %d of %d batches in time: %s", seen, n, stderr.String())
		}
	}
	time.Sleep(extra) // land the kill at a random point inside a later transaction
	_ = cmd.Process.Signal(syscall.SIGKILL)
	for a := range acks { // anything printed before death was committed
		last = a
	}
	_ = cmd.Wait()
	return last
}
