package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/metrics"
	"github.com/outpost-status/outpost/status/monitor"
	"github.com/outpost-status/outpost/status/notify"
	"github.com/outpost-status/outpost/status/peers"
	"github.com/outpost-status/outpost/status/statuspage"
	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/web"
	"github.com/outpost-status/outpost/status/webhook"
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
	beats := probes.NewBeats(nil) // pushed heartbeats, shared by every config loaded
	cfg, ok := loadConfigWith(*path, stderr, config.LoadOptions{Probe: probes.Options{Version: version, Beats: beats}})
	if !ok {
		return exitConfig
	}
	st, err := store.Open(cfg.Storage.Path, store.Options{})
	if err != nil {
		log.Error("cannot open the data file", "error", err)
		return exitFailed
	}
	defer st.Close()
	if r, ok := st.Restored(); ok {
		log.Warn("the data file is a restored backup: ids and announcement keys continue above a new floor, so none repeats",
			slog.Time("backup_at", r.BackupAt), slog.Uint64("floor", r.Floor))
	}

	var mon *monitor.Monitor // set before the listener starts
	met := metrics.New(metrics.Options{Version: version, PerCheckHistograms: cfg.Metrics.PerCheckHistograms, Outbox: backlog(st, cfg.Webhooks.Enabled)})
	chs, err := buildChannels(cfg, st)
	if err != nil {
		log.Error("cannot set up channels", "error", err)
		return exitFailed
	}
	disp := notify.New(notify.Options{Store: st, Channels: chs, Logger: log, SiteID: cfg.Site.ID, Site: cfg.Site.Title, SiteURL: cfg.Site.URL,
		Observe: func(dest, result string) { met.Deliveries.WithLabelValues(dest, result).Inc() }})
	var rl *reloader  // set before the listener starts
	var exp *exporter // set when export.dir is configured
	var srv *web.Server
	wh := webhookService(cfg, st, log, met, func() *monitor.Monitor { return mon })
	wake := disp.Wake
	if wh != nil {
		wake = func() { disp.Wake(); wh.Wake() }
	}
	srv, err = web.New(web.Options{Site: cfg.Site, SiteID: cfg.Site.ID, Store: st, Logger: log, Refresh: 60, TrustedProxies: cfg.Proxies,
		Health:  func() (bool, string) { return mon.Health() },
		Metrics: promhttp.HandlerFor(met.Registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)}),
		Details: func() any { return healthDetails(mon, st, rl, wh != nil) }, Admin: adminAPI(cfg, func() *monitor.Monitor { return mon }, wake), Webhooks: wh,
		OnRender: func(s *status.Snapshot) {
			if exp != nil {
				exp.offer(s)
			}
		},
		Heartbeats: &web.Heartbeats{Beats: beats, Hashes: func() map[string]string { return heartbeatHashes(mon.Config(), st) }},
		Peer:       peerHandler(cfg, func() (bool, string) { return mon.Health() })})
	if err != nil {
		log.Error("cannot prepare the web server", "error", err)
		return exitFailed
	}
	if n, err := st.CancelGone(func(dest string) bool {
		if dest == store.WebhooksDest {
			return wh != nil
		}
		return slices.ContainsFunc(chs, func(c *notify.Channel) bool { return c.Name == dest })
	}, time.Now()); err != nil {
		log.Error("cannot read the outbox", "error", err)
		return exitFailed
	} else if n > 0 {
		log.Warn("cancelled announcements for destinations no longer configured", "deliveries", n)
	}
	route := withWebhooks(notify.Route(chs, notify.Publish{Mode: cfg.Publish.Mode, Delay: cfg.Publish.Delay}), cfg, wh != nil)
	mon, err = monitor.New(monitor.Options{Config: cfg, Store: st, Logger: log, Metrics: met, OnCommit: wake,
		Route: route, OnSnapshot: srv.Offer}) // rendered off the engine's goroutine (srv.Run)
	if err != nil {
		log.Error("cannot start the monitor", "error", err)
		return exitFailed
	}
	if err := srv.Update(mon.Snapshot()); err != nil {
		log.Error("first render failed", "error", err)
		return exitFailed
	}
	beats.OnBeat = func(check string) { mon.Scheduler().RunNow(check) } // a beat is judged at once
	rl = newReloader(*path, cfg, mon, met, log)
	rl.beats = beats
	if cfg.Export.Dir != "" {
		exp = newExporter(cfg.Export, srv, log)
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Error("cannot listen", "listen", cfg.Listen, "error", err)
		return exitFailed
	}
	handler := srv.Handler()
	var plain *http.Server // the HTTP → HTTPS redirect, when TLS is on
	if cfg.TLS.Enabled() {
		tcfg, redirect, err := tlsSetup(cfg.TLS, cfg.Listen, log)
		if err != nil {
			log.Error("cannot set up TLS", "error", err)
			return exitFailed
		}
		ln = tls.NewListener(ln, tcfg)
		handler = hsts(handler)
		if cfg.TLS.HTTPListen != "" {
			pln, err := net.Listen("tcp", cfg.TLS.HTTPListen)
			if err != nil {
				log.Error("cannot listen", "http_listen", cfg.TLS.HTTPListen, "error", err)
				return exitFailed
			}
			plain = &http.Server{Handler: redirect, ReadHeaderTimeout: 5 * time.Second}
			go func() { _ = plain.Serve(pln) }()
		}
	}
	httpSrv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	admin, err := listenBackup(cfg.Storage.Path, st, srv, mon, log)
	if err != nil {
		log.Warn("backup socket unavailable; 'outpost backup' needs Outpost stopped", "error", err)
	}
	ops, err := listenOperators(cfg.Operators, srv, log)
	if err != nil {
		log.Error("cannot listen for operators", "operators_listen", cfg.Operators.Listen, "error", err)
		return exitFailed
	}

	// The dispatcher starts before probing, so a backlog drains first.
	dispCtx, stopDisp := context.WithCancel(context.Background())
	dispDone := make(chan struct{})
	go func() { disp.Run(dispCtx); close(dispDone) }()
	whDone := make(chan struct{})
	if wh != nil {
		go func() { wh.Run(dispCtx); close(whDone) }()
	} else {
		close(whDone)
	}
	renderCtx, stopRender := context.WithCancel(context.Background())
	defer stopRender()
	go srv.Run(renderCtx)
	monCtx, stopMon := context.WithCancel(context.Background())
	monDone := make(chan error, 1)
	go func() { monDone <- mon.Run(monCtx) }()
	reloadCtx, stopReload := context.WithCancel(context.Background())
	defer stopReload()
	go rl.run(reloadCtx)
	if exp != nil {
		go exp.run(reloadCtx)
		exp.offer(mon.Snapshot())
	}
	if len(cfg.Peers) > 0 {
		pl := &peers.Poller{Self: cfg.Site.ID, Peers: cfg.Peers, Interval: cfg.Peering.Interval, Failures: cfg.Peering.Failures,
			Client: &http.Client{}, Now: time.Now, Log: log, Report: func(ev status.Event) {
				if _, err := st.Enqueue(ev, route(ev), time.Now()); err != nil {
					log.Error("could not record a peer event", "error", err)
					return
				}
				wake()
			}}
		go pl.Run(reloadCtx)
	}
	if cfg.Deadman.URL != "" {
		dm := &deadman{cfg: cfg.Deadman, healthy: mon.Health, log: log, hc: &http.Client{},
			count: func(r string) { met.DeadmanPings.WithLabelValues(r).Inc() }}
		go dm.run(reloadCtx)
	}
	webDone := make(chan error, 1)
	go func() { webDone <- httpSrv.Serve(ln) }()
	log.Info("outpost serving", "version", version, "listen", ln.Addr().String(), "tls", cfg.TLS.Enabled(),
		"checks", len(cfg.Checks), "data", cfg.Storage.Path)

	code := exitOK
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-webDone:
		log.Error("web server stopped", "error", err)
		code = exitFailed
	case err := <-monDone:
		log.Error("monitor stopped", "error", err)
		code = exitFailed
	}
	// Reverse of start: stop reloading and probing and commit, then stop
	// serving, then close the store (deferred).
	stopReload()
	stopMon()
	if err := <-monDone; err != nil && !errors.Is(err, context.Canceled) {
		log.Error("final commit failed", "error", err)
		code = exitFailed
	}
	stopDisp() // sends in flight finish (bounded by their timeouts) and record their outcome
	<-dispDone
	<-whDone
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(shutCtx)
	if admin != nil {
		_ = admin.Shutdown(shutCtx)
	}
	if ops != nil {
		_ = ops.Shutdown(shutCtx)
	}
	if plain != nil {
		_ = plain.Shutdown(shutCtx)
	}
	log.Info("stopped")
	return code
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

// backupSocket is where a running Outpost serves consistent copies of its
// data file to `outpost backup` and its site to `outpost export`; file
// permissions guard it.
func backupSocket(dataPath string) string { return dataPath + ".sock" }

func listenBackup(dataPath string, st *store.Store, srv *web.Server, mon *monitor.Monitor, log *slog.Logger) (*http.Server, error) {
	sock := backupSocket(dataPath)
	_ = os.Remove(sock) // a stale socket from a crash; the data file's lock proves we own it
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		if _, err := st.Backup(w); err != nil {
			log.Error("backup failed", "error", err)
		}
	})
	mux.HandleFunc("POST /heartbeat-token", func(w http.ResponseWriter, r *http.Request) {
		token, err := issueHeartbeatToken(mon.Config(), st, r.URL.Query().Get("check"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		io.WriteString(w, token)
	})
	mux.HandleFunc("GET /export", func(w http.ResponseWriter, r *http.Request) {
		files, err := srv.Files(mon.Snapshot())
		if err != nil {
			log.Error("export failed", "error", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/x-tar")
		_ = web.WriteTar(w, files, time.Now())
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	return hs, nil
}

// listenOperators serves /metrics, /api/v1/health and /healthz with its
// reason on the operators' listener. Failing to bind the default address
// (another Outpost, or Prometheus on 9090) is a warning: the surfaces stay
// reachable with an admin token. Failing to bind an address the config
// names is an error.
func listenOperators(o config.Operators, srv *web.Server, log *slog.Logger) (*http.Server, error) {
	if o.Off() {
		return nil, nil
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		if o.Explicit {
			return nil, err
		}
		log.Warn("operators' listener unavailable; /metrics and /api/v1/health need an admin token on the public listener",
			"operators_listen", o.Listen, "error", err)
		return nil, nil
	}
	hs := &http.Server{Handler: srv.OperatorsHandler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() { _ = hs.Serve(ln) }()
	log.Info("operators' surfaces", "operators_listen", ln.Addr().String())
	return hs, nil
}

// adminAPI enables the admin API when tokens are configured; only hashes
// of the tokens are kept.
func adminAPI(cfg *config.Config, mon func() *monitor.Monitor, wake func()) *web.Admin {
	if len(cfg.Admin.Tokens) == 0 {
		return nil
	}
	a := &web.Admin{Wake: wake, Do: func(ctx context.Context, cmds ...status.Command) ([]status.Reply, error) {
		return mon().Do(ctx, cmds...)
	}}
	for _, t := range cfg.Admin.Tokens {
		a.Tokens = append(a.Tokens, web.AdminToken{Name: t.Name, Hash: store.HashToken(t.Token), ReadOnly: t.ReadOnly})
	}
	return a
}

// heartbeatHashes maps the heartbeat checks of cfg to their token hashes.
func heartbeatHashes(cfg *config.Config, st *store.Store) map[string]string {
	out := map[string]string{}
	for _, c := range cfg.Checks {
		if c.Kind == "heartbeat" {
			if h := st.HeartbeatHash(c.Name); h != "" {
				out[c.Name] = h
			}
		}
	}
	return out
}

// issueHeartbeatToken makes a new token for a heartbeat check.
func issueHeartbeatToken(cfg *config.Config, st *store.Store, check string) (string, error) {
	c, ok := cfg.CheckByName(check)
	if !ok || c.Kind != "heartbeat" {
		return "", fmt.Errorf("no heartbeat check named %q", check)
	}
	return st.NewHeartbeatToken(check)
}

// peerHandler serves the signed health summary when peers are configured.
func peerHandler(cfg *config.Config, health func() (bool, string)) http.Handler {
	if len(cfg.Peers) == 0 {
		return nil
	}
	return peers.Handler(cfg.Site.ID, cfg.Peers, health, time.Now)
}

// webhookService sets up public webhook subscriptions when enabled.
func webhookService(cfg *config.Config, st *store.Store, log *slog.Logger, met *metrics.Metrics, mon func() *monitor.Monitor) *webhook.Service {
	w := cfg.Webhooks
	if !w.Enabled {
		return nil
	}
	site := statuspage.Site{ID: cfg.Site.ID, Name: cfg.Site.Title, URL: cfg.Site.URL, TimeZone: cfg.Site.TimeZone, Location: cfg.Site.Location}
	return webhook.New(webhook.Options{Store: st, Logger: log, Site: site, AllowHTTP: w.AllowHTTP, AllowPrivate: w.AllowPrivateTargets,
		PerClient: w.PerClient, Workers: w.Concurrency, PerHost: w.PerHost, Timeout: w.Timeout,
		Components: func(id string) bool { _, ok := mon().Config().ComponentByID(id); return ok },
		Observe:    func(result string) { met.Deliveries.WithLabelValues(store.WebhooksDest, result).Inc() }})
}

// withWebhooks adds the webhooks destination, under the publish policy,
// to the events subscribers can receive.
func withWebhooks(route store.Router, cfg *config.Config, on bool) store.Router {
	if !on {
		return route
	}
	pub := notify.Publish{Mode: cfg.Publish.Mode, Delay: cfg.Publish.Delay}
	return func(ev status.Event) []store.Dest {
		dests := route(ev)
		if webhook.Wants(ev) {
			dests = append(dests, notify.PublicDest(store.WebhooksDest, pub))
		}
		return dests
	}
}

// backlog is the outbox depth per destination for /metrics; with webhooks
// on, "@webhooks" also counts deliveries not yet made to subscribers.
func backlog(st *store.Store, webhooks bool) func() (map[string]store.Depth, error) {
	if !webhooks {
		return st.OutboxDepth
	}
	return func() (map[string]store.Depth, error) {
		depth, err := st.OutboxDepth()
		if err != nil {
			return nil, err
		}
		ws, err := st.WebhookStats()
		if err != nil {
			return nil, err
		}
		if ws.Open > 0 {
			d := depth[store.WebhooksDest]
			d.Pending += ws.Open
			if d.Oldest.IsZero() || ws.OldestOpen.Before(d.Oldest) {
				d.Oldest = ws.OldestOpen
			}
			depth[store.WebhooksDest] = d
		}
		return depth, nil
	}
}
