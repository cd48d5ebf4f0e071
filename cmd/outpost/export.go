package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/monitor"
	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/web"
)

// runExport writes the public site as static files. With Outpost running
// the files come from it over the local socket; otherwise they are
// rendered from the data file.
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, path := newFlags("export", stderr)
	out := fs.String("out", "", "the folder to publish to: a symlink, replaced atomically (required)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *out == "" {
		fmt.Fprintln(stderr, "outpost export: -out DIR is required")
		return exitConfig
	}
	cfg, ok := loadConfigFor(*path, stderr, anyField)
	if !ok {
		return exitConfig
	}
	files, source, err := exportFiles(ctx, cfg)
	if err == nil {
		err = web.Publish(*out, files)
	}
	if err != nil {
		fmt.Fprintln(stderr, "outpost export:", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "exported %d files to %s (from %s)\n", len(files), *out, source)
	return exitOK
}

func exportFiles(ctx context.Context, cfg *config.Config) ([]web.File, string, error) {
	var files []web.File
	err := fromRunning(ctx, cfg.Storage.Path, "/export", func(r io.Reader) (err error) { files, err = web.ReadTar(r); return err })
	if err == nil {
		return files, "the running Outpost", nil
	}
	if !errors.Is(err, errNotRunning) {
		return nil, "", err
	}
	// The replicated file alone: the site is rendered from it, and an
	// export makes no local file beside a data file.
	st, err := store.Open(cfg.Storage.Path, store.Options{LockTimeout: 2 * time.Second, ReplicatedOnly: true})
	if err != nil {
		return nil, "", err
	}
	defer st.Close()
	// Every page, as verify reads them: the site is rendered from a part
	// of the file, and a copy of the page from a damaged file is not one
	// to publish.
	if err := pageCheck(st); err != nil {
		return nil, "", fmt.Errorf("%s %w: %v", cfg.Storage.Path, store.ErrDamaged, err)
	}
	quiet := slog.New(slog.DiscardHandler)
	mon, err := monitor.New(monitor.Options{Config: cfg, Store: st, Logger: quiet})
	if err != nil {
		return nil, "", err
	}
	srv, err := web.New(web.Options{Site: cfg.Site, SiteID: cfg.Site.ID, Store: st, Logger: quiet})
	if err != nil {
		return nil, "", err
	}
	files, err = srv.Files(mon.Snapshot())
	return files, "the data file", err
}
