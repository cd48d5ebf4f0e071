package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/node"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, path := newFlags("serve", stderr)
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "outpost serve:", err)
		return exitConfig
	}
	// Before the config's load: its checks are the first large heap.
	pace := gcDefaultFromEnv(log)
	beats := probes.NewBeats(nil) // pushed heartbeats, shared by every config loaded
	cfg, ok := loadConfigWith(*path, stderr, config.LoadOptions{Probe: probes.Options{Version: version, Beats: beats}})
	if !ok {
		return exitConfig
	}
	n, err := node.New(node.Options{ConfigPath: *path, Config: cfg, Beats: beats, Logger: log, Version: version})
	if err == nil {
		err = n.Listen()
	}
	defer n.Close() // also after a failed New: it releases what was built
	if err != nil {
		log.Error("outpost cannot start", "error", err)
		return exitFailed
	}
	if pace != nil {
		paceCtx, stopPace := context.WithCancel(ctx)
		defer stopPace()
		go pace(paceCtx)
	}
	if n.Run(ctx) != nil {
		return exitFailed // logged by the node
	}
	return exitOK
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format must be text or json, got %q", format)
}
