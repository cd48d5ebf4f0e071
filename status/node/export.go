package node

import (
	"context"
	"log/slog"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/web"
)

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
