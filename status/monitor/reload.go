package monitor

import (
	"context"
	"errors"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
)

// Config returns the configuration in force.
func (m *Monitor) Config() *config.Config { return m.cfg.Load() }

// Reload swaps in a new, already validated configuration: checks,
// components, maintenance and incident settings change without a restart,
// and unchanged checks keep their state. It returns once the new
// configuration is in force.
func (m *Monitor) Reload(ctx context.Context, cfg *config.Config) error {
	req := reloadReq{cfg: cfg, done: make(chan error, 1)}
	select {
	case m.reloads <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// reload runs on the engine goroutine.
func (m *Monitor) reload(cfg *config.Config) error {
	next, err := m.newScheduler(cfg)
	if err != nil {
		return err
	}
	old := m.sched.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	old.Stop(ctx) // its last reports wait in the queue; removed checks' are ignored
	cancel()
	m.o.Machine.SetModel(cfg.Model(), Site(cfg))
	m.adopt(cfg, next)
	m.hist.invalidate()
	next.Start()
	if _, err = m.step(status.Batch{Now: m.o.Now().UTC()}); errors.Is(err, store.ErrOtherModel) {
		// In force here all the same: a member that reloads before the
		// leader contributes nothing until the cluster's model is this
		// one (or its own is the cluster's again).
		return nil
	}
	return err
}
