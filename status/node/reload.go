package node

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/metrics"
	"github.com/outpost-status/outpost/status/monitor"
	"github.com/outpost-status/outpost/status/store"
)

// reloader re-reads the config on SIGHUP and when the file changes, and
// swaps it in only when it is entirely valid: a bad file leaves the last
// good config running.
type reloader struct {
	path    string
	version string
	mon     *monitor.Monitor
	met     *metrics.Metrics
	log     *slog.Logger

	beats *probes.Beats // the heartbeat registry every config shares
	st    *store.Store  // read: heartbeat token hashes
	// members takes a reloaded cluster.nodes (the cluster member's
	// SetNodes); nil on a single node.
	members func([]config.ClusterNode)

	mu       sync.Mutex
	hash     string
	loadedAt time.Time
	now      func() time.Time
	lastErr  string
	// seen caches the file's hash by its size and modification time, so
	// health requests re-hash only a file that changed.
	seen fileStamp
}

// fileStamp is a config file's size and modification time, with the hash
// of the bytes read when it had them.
type fileStamp struct {
	size    int64
	modTime time.Time
	hash    string
}

// fileHash is the hash of the config file's bytes now: "" when it cannot
// be read (missing, not a regular file, too large). It reads the file only
// when its size or modification time differ from the last read.
func (r *reloader) fileHash() string {
	fi, err := os.Stat(r.path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > config.MaxFileSize {
		return ""
	}
	r.mu.Lock()
	seen := r.seen
	r.mu.Unlock()
	if seen.hash != "" && fi.Size() == seen.size && fi.ModTime().Equal(seen.modTime) {
		return seen.hash
	}
	data, fi, err := config.ReadFile(r.path)
	if err != nil {
		return ""
	}
	h := config.Hash(data)
	r.mu.Lock()
	r.seen = fileStamp{size: fi.Size(), modTime: fi.ModTime(), hash: h}
	r.mu.Unlock()
	return h
}

// debounce lets an editor finish writing (several events per save).
const debounce = 300 * time.Millisecond

func newReloader(path string, cfg *config.Config, mon *monitor.Monitor, met *metrics.Metrics, log *slog.Logger, now func() time.Time) *reloader {
	return &reloader{path: path, mon: mon, met: met, log: log, hash: cfg.Hash, loadedAt: now().UTC(), now: now,
		seen: fileStamp{size: cfg.Size, modTime: cfg.ModTime, hash: cfg.Hash}}
}

// run watches until ctx ends.
func (r *reloader) run(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var events <-chan fsnotify.Event
	if w, err := fsnotify.NewWatcher(); err != nil {
		r.log.Warn("config file watch unavailable; reload with SIGHUP", "error", err)
	} else {
		defer w.Close()
		// Watch the folder: editors replace the file by renaming over it.
		if err := w.Add(filepath.Dir(r.abs())); err != nil {
			r.log.Warn("config file watch unavailable; reload with SIGHUP", "error", err)
		} else {
			events = w.Events
		}
	}
	var timer <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.reload(ctx, "SIGHUP")
		case ev := <-events:
			if filepath.Clean(ev.Name) == r.abs() && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
				timer = time.After(debounce)
			}
		case <-timer:
			timer = nil
			if r.fileHash() != r.current() { // unchanged bytes: nothing to do
				r.reload(ctx, "file changed")
			}
		}
	}
}

func (r *reloader) abs() string {
	p, _ := filepath.Abs(r.path)
	return p
}

func (r *reloader) current() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hash
}

func (r *reloader) reload(ctx context.Context, why string) {
	cfg, err := config.Load(r.path, config.LoadOptions{Probe: probes.Options{Version: r.version, Beats: r.beats}})
	if err == nil {
		err = r.compatible(cfg)
	}
	if err == nil {
		err = r.mon.Reload(ctx, cfg)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.met.ObserveReload(err == nil)
	if err != nil {
		r.lastErr = err.Error()
		r.log.Error("config reload rejected; the last good config stays in force", "trigger", why, "file", r.path, "error", err)
		return
	}
	r.hash, r.loadedAt, r.lastErr = cfg.Hash, r.now().UTC(), ""
	r.seen = fileStamp{size: cfg.Size, modTime: cfg.ModTime, hash: cfg.Hash}
	r.beats.SetTokens(heartbeatHashes(cfg, r.st, r.log)) // checks added or removed
	if r.members != nil && cfg.Cluster != nil {
		r.members(cfg.Cluster.Nodes)
	}
	r.log.Info("config reloaded", "trigger", why, "checks", len(cfg.Checks), "components", len(cfg.Components))
}

// compatible refuses changes that need a restart rather than applying
// half: each section's rule is declared in status/config/reload.go.
func (r *reloader) compatible(next *config.Config) error {
	return config.RestartNeeded(r.mon.Config(), next)
}

// state reports the config in force for /api/v1/health.
func (r *reloader) state() configHealth {
	now := r.fileHash()
	r.mu.Lock()
	defer r.mu.Unlock()
	return configHealth{File: r.abs(), LoadedAt: r.loadedAt, MatchesFile: now == r.hash, LastReloadError: r.lastErr}
}
