package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/outpost-status/outpost/status/node"
	"github.com/outpost-status/outpost/status/store"
)

// runBackup writes a consistent copy of the data file: the replicated
// state, what a restore needs (the node-local file beside it, raw results
// and screenshots, is not copied). With Outpost running, the copy comes
// from it over the backup socket (bbolt's lock keeps other processes out
// of the file); otherwise from the file directly.
func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, path := newFlags("backup", stderr)
	out := fs.String("out", "", "where to write the copy (required)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *out == "" {
		fmt.Fprintln(stderr, "outpost backup: -out FILE is required")
		return exitConfig
	}
	cfg, ok := loadConfigFor(*path, stderr, anyField)
	if !ok {
		return exitConfig
	}
	tmp := *out + ".partial"
	n, source, err := checkedCopy(ctx, cfg.Storage.Path, tmp, false)
	if err == nil {
		// A restore of this copy is known as one: ids continue past what
		// the original issued after it (docs/operations.md).
		err = store.MarkBackup(tmp, time.Now())
	}
	if err == nil {
		err = os.Rename(tmp, *out)
	}
	if err != nil {
		os.Remove(tmp)
		fmt.Fprintln(stderr, "outpost backup:", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes, from %s); restore by stopping Outpost and copying it to %s\n", *out, n, source, cfg.Storage.Path)
	return exitOK
}

// checkedCopy writes a consistent copy of the data file (with local, of
// its node-local file) to path and checks every page of it; a copy that
// fails the check means the file is damaged (the copy is its own bytes).
func checkedCopy(ctx context.Context, dataPath, path string, local bool) (int64, string, error) {
	if local {
		dataPath, path = store.LocalPath(dataPath), store.LocalPath(path)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, "", err
	}
	n, source, err := copyData(ctx, dataPath, f, local)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if verr := verifyCopy(path, local); verr != nil {
			err = fmt.Errorf("%s %w: %v", dataPath, store.ErrDamaged, verr)
		}
	}
	return n, source, err
}

// copyData copies the data file, or with local the node-local file of the
// data file at dataPath's local path, to w.
func copyData(ctx context.Context, dataPath string, w io.Writer, local bool) (int64, string, error) {
	var n int64
	data, what := dataPath, "/backup"
	if local {
		data, what = strings.TrimSuffix(dataPath, ".local"), "/backup?file=local"
	}
	err := fromRunning(ctx, data, what, func(r io.Reader) (err error) { n, err = io.Copy(w, r); return err })
	if err == nil {
		return n, "the running Outpost", nil
	}
	if !errors.Is(err, errNotRunning) {
		return 0, "", err
	}
	// Not running: read the file, failing fast if something else holds it.
	st, oerr := store.Open(data, store.Options{LockTimeout: 2 * time.Second, ReplicatedOnly: !local})
	if oerr != nil {
		return 0, "", oerr
	}
	defer st.Close()
	if local {
		n, err = st.BackupLocal(w)
	} else {
		n, err = st.Backup(w)
	}
	return n, filepath.Base(dataPath), err
}

// errNotRunning: nothing answers on the socket beside the data file.
var errNotRunning = errors.New("no running Outpost")

// fromRunning GETs path from the Outpost serving dataPath, over the local
// socket beside it, and hands the body to read.
func fromRunning(ctx context.Context, dataPath, path string, read func(io.Reader) error) error {
	return callRunning(ctx, http.MethodGet, dataPath, path, read)
}

// callRunning is fromRunning with a method.
func callRunning(ctx context.Context, method, dataPath, path string, read func(io.Reader) error) error {
	sock := node.BackupSocket(dataPath)
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	req, _ := http.NewRequestWithContext(ctx, method, "http://outpost"+path, nil)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %v", errNotRunning, sock, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("running Outpost answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return read(resp.Body)
}

// verifyCopy opens the copy and runs bbolt's consistency check: a copy
// of the replicated file alone, or of a local file (path ends in .local)
// with the replicated copy checked before it beside it.
func verifyCopy(path string, local bool) error {
	if local {
		path = strings.TrimSuffix(path, ".local")
	}
	st, err := store.Open(path, store.Options{LockTimeout: time.Second, ReplicatedOnly: !local})
	if err != nil {
		return fmt.Errorf("the copy does not open: %w", err)
	}
	defer st.Close()
	return pageCheck(st)
}

// pageCheck reads every page of st (Store.Check): what verify, backup and
// an export from the file run, so the three agree on a damaged file.
func pageCheck(st *store.Store) error {
	if errs := st.Check(); len(errs) > 0 {
		// bbolt words some findings as panics it caught; say what it found.
		first := strings.TrimPrefix(errs[0].Error(), "panic: ")
		return fmt.Errorf("the page check found %d problem(s), the first: %s", len(errs), first)
	}
	return nil
}

// runVerify checks the whole data file and its node-local file page by
// page (bbolt's tx.Check), on consistent copies taken as 'backup' takes
// one, so it works while Outpost runs. It reads every page: O(file), hence a command of its own
// and not a start-up step (start-up reads the meta pages and what the
// engine loads).
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, path := newFlags("verify", stderr)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, ok := loadConfigFor(*path, stderr, anyField)
	if !ok {
		return exitConfig
	}
	dir, err := os.MkdirTemp(filepath.Dir(cfg.Storage.Path), ".verify-")
	if err != nil {
		fmt.Fprintln(stderr, "outpost verify:", err)
		return exitFailed
	}
	defer os.RemoveAll(dir)
	n, source, err := checkedCopy(ctx, cfg.Storage.Path, filepath.Join(dir, "copy.db"), false)
	if err == nil {
		var ln int64
		ln, _, err = checkedCopy(ctx, cfg.Storage.Path, filepath.Join(dir, "copy.db"), true)
		n += ln
	}
	if err != nil {
		fmt.Fprintln(stderr, "outpost verify:", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "%s is consistent (%d bytes checked, from %s)\n", cfg.Storage.Path, n, source)
	return exitOK
}
