package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/outpost-status/outpost/status"
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
	st, err := store.Open(cfg.Storage.Path, store.Options{LockTimeout: 2 * time.Second})
	if err != nil {
		return nil, "", err
	}
	defer st.Close()
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

// exporter refreshes export.dir from published snapshots, off the engine's
// goroutine: after each state change, and at least every cfg.Every so the
// copy's "last checked" and staleness stay honest.
type exporter struct {
	dir   string
	every time.Duration
	srv   *web.Server
	log   *slog.Logger
	snaps chan *status.Snapshot
}

func newExporter(cfg config.Export, srv *web.Server, log *slog.Logger) *exporter {
	return &exporter{dir: cfg.Dir, every: cfg.Every, srv: srv, log: log, snaps: make(chan *status.Snapshot, 1)}
}

// offer hands over the newest snapshot without ever blocking the engine.
func (x *exporter) offer(s *status.Snapshot) {
	select {
	case <-x.snaps: // drop the older one
	default:
	}
	x.snaps <- s
}

func (x *exporter) run(ctx context.Context) {
	var lastChange, lastExport time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-x.snaps:
			change := changeOf(s)
			if change.Equal(lastChange) && time.Since(lastExport) < x.every {
				continue
			}
			files, err := x.srv.Files(s)
			if err == nil {
				err = web.Publish(x.dir, files)
			}
			if err != nil {
				x.log.Error("static export failed; the previous copy stays", "dir", x.dir, "error", err)
				continue
			}
			lastChange, lastExport = change, time.Now()
		}
	}
}

// changeOf is the newest change a page shows: state, or the delay banner.
func changeOf(s *status.Snapshot) time.Time {
	if t := s.LastChange(); t.After(s.DelayedSince) {
		return t
	}
	return s.DelayedSince
}
