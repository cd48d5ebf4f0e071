package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/outpost-status/outpost/status/node"
	"github.com/outpost-status/outpost/status/store"
)

// runHeartbeat is `outpost heartbeat token -config FILE -check NAME`: a new
// token for a push check, shown once (only its hash is kept).
func runHeartbeat(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(stdout, "usage: outpost heartbeat token -config FILE -check NAME\n\nRun with a command and -h for its flags.")
		return exitOK
	}
	if len(args) == 0 || args[0] != "token" {
		fmt.Fprintln(stderr, "usage: outpost heartbeat token -config FILE -check NAME")
		return exitConfig
	}
	fs, path := newFlags("heartbeat token", stderr)
	check := fs.String("check", "", "the heartbeat check (required)")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	cfg, ok := loadConfigFor(*path, stderr, anyField)
	if !ok {
		return exitConfig
	}
	var token string
	err := callRunning(ctx, "POST", cfg.Storage.Path, "/heartbeat-token?check="+url.QueryEscape(*check), func(r io.Reader) error {
		b, err := io.ReadAll(r)
		token = strings.TrimSpace(string(b))
		return err
	})
	if errors.Is(err, errNotRunning) { // offline: write the hash to the file
		var st *store.Store
		if st, err = store.Open(cfg.Storage.Path, store.Options{LockTimeout: 2 * time.Second}); err == nil {
			token, err = node.IssueHeartbeatToken(cfg, st, *check, time.Now())
			st.Close()
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "outpost heartbeat:", err)
		return exitFailed
	}
	u := cfg.Site.URL + "/api/v1/heartbeat/" + token
	fmt.Fprintf(stdout, "token for %s (shown once; only its hash is kept):\n  %s\n\nping on success:  curl -fsS -X POST %s\nreport a failure: curl -fsS -X POST %s/fail\n",
		*check, token, u, u)
	return exitOK
}
