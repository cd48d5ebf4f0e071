package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/outpost-status/outpost/status/config"
)

// deadman pings cfg.URL every interval while health says Outpost works, so
// an external service (healthchecks-style) notices when it dies or stalls.
// A failed ping is logged and counted, never fatal.
type deadman struct {
	cfg     config.Deadman
	healthy func() (bool, string)
	count   func(result string)
	log     *slog.Logger
	hc      *http.Client
	agent   string // User-Agent
}

func (d *deadman) run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	for {
		d.ping(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *deadman) ping(ctx context.Context) {
	if ok, why := d.healthy(); !ok {
		d.count("skipped") // silence is the signal
		d.log.Warn("dead man's switch not pinged: unhealthy", "reason", why)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, d.cfg.Method, d.cfg.URL, nil)
	if err == nil {
		req.Header.Set("User-Agent", d.agent)
		var resp *http.Response
		if resp, err = d.hc.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode >= 300 {
				err = fmt.Errorf("HTTP %s", resp.Status)
			}
		}
	}
	if err != nil {
		d.count("failed")
		d.log.Warn("dead man's switch ping failed", "error", err)
		return
	}
	d.count("ok")
}
