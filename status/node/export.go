package node

import (
	"context"
	"log/slog"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/web"
)

// exporter refreshes export.dir from what the web server serves, off the
// engine's goroutine: at start, after each state change, and at least
// every cfg.Every so the copy's "last checked" and staleness stay honest.
type exporter struct {
	dir   string
	every time.Duration
	srv   *web.Server
	log   *slog.Logger
}

func newExporter(cfg config.Export, srv *web.Server, log *slog.Logger) *exporter {
	return &exporter{dir: cfg.Dir, every: cfg.Every, srv: srv, log: log}
}

// run exports what is served now, then again on each render the web
// server signals.
func (x *exporter) run(ctx context.Context) {
	var lastChange, lastExport time.Time
	for {
		if s := x.srv.Served(); s != nil {
			if change := changeOf(s); !change.Equal(lastChange) || time.Since(lastExport) >= x.every {
				files, err := x.srv.Files(s)
				if err == nil {
					err = web.Publish(x.dir, files)
				}
				if err != nil {
					x.log.Error("static export failed; the previous copy stays", "dir", x.dir, "error", err)
				} else {
					lastChange, lastExport = change, time.Now()
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-x.srv.Rendered():
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
