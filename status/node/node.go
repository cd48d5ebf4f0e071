// Package node is one Outpost: everything `outpost serve` builds from a
// config, each part made after what it needs (store, the one way in,
// metrics, channels, monitor, webhooks, web), then listening, started and
// stopped in order. The parts reach each other through the node's methods,
// which run only once everything is built.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/cluster"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/email"
	"github.com/outpost-status/outpost/status/machine"
	"github.com/outpost-status/outpost/status/metrics"
	"github.com/outpost-status/outpost/status/monitor"
	"github.com/outpost-status/outpost/status/notify"
	"github.com/outpost-status/outpost/status/peers"
	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/web"
	"github.com/outpost-status/outpost/status/webhook"
)

// Options is what a node is built from.
type Options struct {
	ConfigPath string         // the config file, for reloads
	Config     *config.Config // loaded from ConfigPath
	// Beats receives pushed heartbeats; shared by every config loaded.
	Beats   *probes.Beats
	Logger  *slog.Logger
	Version string           // in the health body, metrics and User-Agents
	Now     func() time.Time // the clock handed to every part; default time.Now
	// Email, when set, delivers to email subscribers (email.go); nil: the
	// config's email section, if any. EmailLinks builds their manage and
	// unsubscribe links (nil: signed capability links).
	Email      *email.Config
	EmailLinks email.Links
}

// Node is one running Outpost.
type Node struct {
	version string
	path    string // the config file, for reloads
	cfg     *config.Config
	log     *slog.Logger
	beats   *probes.Beats
	st      *store.Store
	// changes is the one way in for durable changes: the machine (the
	// engine and the store) on one node; every part below writes through
	// it, never to st. Until the machine is made (it needs the routes),
	// the store itself, for the entries of starting up.
	changes store.Log
	mach    *machine.Machine
	cl      *cluster.Node    // nil on a single node
	fence   *fencedLog       // the delivery loops' Log in a cluster
	now     func() time.Time // the node's clock, handed to every part
	met     *metrics.Metrics
	chs     []*notify.Channel
	disp    *notify.Dispatcher
	route   store.Router
	mon     *monitor.Monitor
	wh      *webhook.Service    // nil: webhooks off
	mail    *notify.Subscribers // nil: email off
	form    *emailForm          // the subscribe form's double opt-in; nil: email off
	srv     *web.Server
	rl      *reloader
	exp     *exporter // nil: no export.dir

	// peerEvents carries the peer poller's events to the relay (nil
	// without peers).
	peerEvents chan status.Event

	ln                          net.Listener
	public, plain, backup, opsL *http.Server
}

// New builds a node; Close releases what it holds, whether or not it ran.
func New(o Options) (*Node, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	cfg, log := o.Config, o.Logger
	n := &Node{version: o.Version, path: o.ConfigPath, cfg: cfg, log: log, beats: o.Beats, now: o.Now}
	var err error
	if n.st, err = store.Open(cfg.Storage.Path, store.Options{Logger: log}); err != nil {
		return nil, fmt.Errorf("cannot open the data file: %w", err)
	}
	n.changes = n.st
	if err := continueRestore(n.st, n.changes, n.now(), log); err != nil {
		return n, err
	}
	if cfg.Cluster == nil { // a cluster's leader makes it, through the log (leaderStart)
		if err := ensureSiteKey(n.st, n.changes, n.now(), log); err != nil {
			return n, err
		}
	}
	if o.Email == nil && cfg.Email.Enabled() {
		o.Email = &cfg.Email.Config
	}
	n.met = metrics.New(metrics.Options{Version: n.version, PerCheckHistograms: cfg.Metrics.PerCheckHistograms, Location: cfg.Cluster.Self().Location,
		Outbox: backlog(n.st, cfg.Webhooks.Enabled, o.Email != nil), Subscribers: subscriberCounts(n.st, cfg.Webhooks.Enabled, o.Email != nil)})
	if n.chs, err = notify.Build(cfg.Setups(), notify.StoredSessions{Store: n.st}); err != nil {
		return n, fmt.Errorf("cannot set up channels: %w", err)
	}
	n.route = withSubscribers(notify.Route(n.chs, notify.Publish{Mode: cfg.Publish.Mode, Delay: cfg.Publish.Delay}), cfg, cfg.Webhooks.Enabled, store.WebhooksDest, webhook.Wants)
	n.route = withSubscribers(n.route, cfg, o.Email != nil, store.EmailDest, store.EmailEvent)
	if err := n.makeLog(); err != nil {
		return n, err
	}
	n.disp = notify.New(notify.Options{Store: n.st, Log: n.claims(), Now: n.now, Channels: n.chs, Logger: log, SiteID: cfg.Site.ID, Site: cfg.Site.Title, SiteURL: cfg.Site.URL,
		Observe: n.met.ObserveDelivery})
	if n.mail, n.form, err = emailLoop(cfg, o.Email, o.EmailLinks, n.st, n.claims(), n.now, log, n.met.ObserveDelivery); err != nil {
		return n, fmt.Errorf("cannot set up email: %w", err)
	}
	if n.mon, err = monitor.New(monitor.Options{Config: cfg, Store: n.st, Machine: n.mach, Log: n.changes, Now: n.now, Logger: log, Metrics: n.met,
		Route: n.route, Node: cfg.Cluster.Self().ID, Location: cfg.Cluster.Self().Location}); err != nil {
		return n, fmt.Errorf("cannot start the monitor: %w", err)
	}
	n.wh = webhookService(cfg, n.st, n.claims(), log, n.met, n.mon)
	if n.cl == nil { // a cluster's leader does it (leaderStart)
		if err := n.cancelGone(); err != nil {
			return n, err
		}
	}
	if n.srv, err = web.New(web.Options{Site: cfg.Site, SiteID: cfg.Site.ID, Store: n.st, Log: n.changes, Now: n.now, Logger: log, Refresh: 60, TrustedProxies: cfg.Proxies,
		Health:     n.health,
		Ready:      n.ready,
		Metrics:    n.met.Handler(slog.NewLogLogger(log.Handler(), slog.LevelError)),
		Details:    func() any { return n.healthDetails() },
		Admin:      adminAPI(cfg, n.mon),
		Webhooks:   n.wh,
		Email:      n.form.subscriber(),
		Follow:     web.Follow(cfg.Channels),
		Heartbeats: n.beats,
		ShareBeats: cfg.Cluster != nil,
		Peer:       peerHandler(cfg, n.health)}); err != nil {
		return n, fmt.Errorf("cannot prepare the web server: %w", err)
	}
	if err := n.srv.Update(n.mon.Snapshot()); err != nil {
		return n, fmt.Errorf("first render failed: %w", err)
	}
	n.beats.SetTokens(heartbeatHashes(cfg, n.st, log))
	if len(cfg.Peers) > 0 {
		n.peerEvents = make(chan status.Event, 8)
	}
	n.prepareSide()
	return n, nil
}

// prepareSide makes what runs beside the loop once it starts (startSide):
// the reloader and the export.
func (n *Node) prepareSide() {
	n.rl = newReloader(n.path, n.cfg, n.mon, n.met, n.log, n.now)
	n.rl.beats, n.rl.version, n.rl.st = n.beats, n.version, n.st
	if n.cl != nil {
		n.rl.members = n.cl.SetNodes
	}
	if n.cfg.Export.Dir != "" {
		n.exp = newExporter(n.cfg.Export, n.srv, n.log)
	}
}

// makeLog makes the one way in every part writes through from here: the
// machine (which runs the engine over the inputs an entry carries), behind
// raft in a cluster.
func (n *Node) makeLog() error {
	var err error
	if n.mach, err = machine.New(machine.Options{Store: n.st, Model: n.cfg.Model(), Route: n.route, Site: monitor.Site(n.cfg), Logger: n.log}); err != nil {
		return fmt.Errorf("cannot load the engine's state: %w", err)
	}
	n.changes = n.mach
	if n.cfg.Cluster != nil {
		return n.joinCluster()
	}
	return nil
}

// wake tells the dispatchers that the outbox has new work.
func (n *Node) wake() {
	n.disp.Wake()
	if n.wh != nil {
		n.wh.Wake()
	}
	if n.mail != nil {
		n.mail.Wake()
	}
}

// relay carries signals to the parts that act on them: the monitor's
// published snapshot to the web server (which renders it on its own
// goroutine), the store's new work (from a step, an admin's release, a
// peer event) to the delivery loops, the peer poller's events to the
// log, and pushed heartbeats to the scheduler. None of those parts calls another; the relay runs until the
// delivery loops stop, so the last step's commit still wakes them.
func (n *Node) relay(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.mon.Published():
			n.srv.Offer(n.mon.Snapshot())
		case <-n.st.Work():
			n.wake()
		case ev := <-n.peerEvents: // nil without peers: never ready
			n.peerEvent(ev)
		case <-n.st.SettingsChanged(): // a token or (in a cluster) a beat, made on any member
			n.takeSettings()
		case <-n.beats.Ready(): // a beat is judged at once
			for _, check := range n.beats.Pending() {
				n.mon.Scheduler().RunNow(check)
			}
		}
	}
}

// cancelGone cancels announcements for destinations no longer configured.
func (n *Node) cancelGone() error {
	keep := make([]string, 0, len(n.chs)+1)
	for _, c := range n.chs {
		keep = append(keep, c.Name)
	}
	if n.wh != nil {
		keep = append(keep, store.WebhooksDest)
	}
	if n.mail != nil {
		keep = append(keep, store.EmailDest)
	}
	res, err := n.changes.Apply(store.Entry{At: n.now(), KeepDests: &keep})
	if err != nil {
		return fmt.Errorf("cannot read the outbox: %w", err)
	}
	if res.Changed > 0 {
		n.log.Warn("cancelled announcements for destinations no longer configured", "deliveries", res.Changed)
	}
	return nil
}

// Listen opens the public listener (with TLS and its HTTP redirect when
// configured), the backup socket and the operators' listener.
func (n *Node) Listen() error {
	cfg := n.cfg
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", cfg.Listen, err)
	}
	handler := n.srv.Handler()
	if cfg.TLS.Enabled() {
		tcfg, redirect, err := tlsSetup(cfg.TLS, cfg.Listen, n.log)
		if err != nil {
			ln.Close()
			return fmt.Errorf("cannot set up TLS: %w", err)
		}
		ln = tls.NewListener(ln, tcfg)
		handler = hsts(handler)
		if cfg.TLS.HTTPListen != "" {
			pln, err := net.Listen("tcp", cfg.TLS.HTTPListen)
			if err != nil {
				ln.Close()
				return fmt.Errorf("cannot listen on %s (http_listen): %w", cfg.TLS.HTTPListen, err)
			}
			n.plain = &http.Server{Handler: redirect, ReadHeaderTimeout: 5 * time.Second}
			go func() { _ = n.plain.Serve(pln) }()
		}
	}
	n.ln = ln
	n.public = &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(n.log.Handler(), slog.LevelWarn)}
	if n.backup, err = n.listenBackup(); err != nil {
		n.log.Warn("backup socket unavailable; 'outpost backup' needs Outpost stopped", "error", err)
	}
	if n.opsL, err = listenOperators(cfg.Operators, n.operators(), n.log); err != nil {
		n.shutdown()
		ln.Close()
		return fmt.Errorf("cannot listen for operators on %s: %w", cfg.Operators.Listen, err)
	}
	return nil
}

// Run starts everything in order (dispatchers before probing, so a
// backlog drains first), serves until ctx ends or a part fails, and stops
// in reverse: reloading and probing and the final commit, then delivery,
// then serving.
func (n *Node) Run(ctx context.Context) error {
	dispCtx, stopDisp := context.WithCancel(context.Background())
	var delivered []chan struct{}
	for _, run := range []func(context.Context){n.deliver, n.subscribeRun} {
		done := make(chan struct{})
		go func() { run(dispCtx); close(done) }()
		delivered = append(delivered, done)
	}
	go n.relay(dispCtx)
	renderCtx, stopRender := context.WithCancel(context.Background())
	defer stopRender()
	go n.srv.Run(renderCtx)
	monCtx, stopMon := context.WithCancel(context.Background())
	monDone := make(chan error, 1)
	go func() { monDone <- n.mon.Run(monCtx) }()
	sideCtx, stopSide := context.WithCancel(context.Background())
	defer stopSide()
	n.startSide(sideCtx)
	webDone := make(chan error, 1)
	go func() { webDone <- n.public.Serve(n.ln) }()
	n.log.Info("outpost serving", "version", n.version, "listen", n.ln.Addr().String(), "tls", n.cfg.TLS.Enabled(),
		"checks", len(n.cfg.Checks), "data", n.cfg.Storage.Path)

	var failed error
	select {
	case <-ctx.Done():
		n.log.Info("shutting down")
	case err := <-webDone:
		n.log.Error("web server stopped", "error", err)
		failed = fmt.Errorf("web server stopped: %w", err)
	case err := <-monDone:
		n.log.Error("monitor stopped", "error", err)
		failed = fmt.Errorf("monitor stopped: %w", err)
		monDone <- nil // it has stopped: the wait for its final commit below must not block forever
	}
	stopSide()
	stopMon()
	if err := <-monDone; err != nil && !errors.Is(err, context.Canceled) {
		n.log.Error("final commit failed", "error", err)
		failed = errors.Join(failed, fmt.Errorf("final commit failed: %w", err))
	}
	stopDisp() // sends in flight finish (bounded by their timeouts) and record their outcome
	for _, done := range delivered {
		<-done
	}
	n.shutdown()
	n.log.Info("stopped")
	return failed
}

// whRun runs the webhook deliveries, when on.
func (n *Node) whRun(ctx context.Context) {
	if n.wh != nil {
		n.wh.Run(ctx)
	}
}

// startSide starts what runs beside the loop: reloads, the export, peer
// polling and the dead man's switch.
func (n *Node) startSide(ctx context.Context) {
	go n.rl.run(ctx)
	if n.cl != nil {
		go n.watchIsolation(ctx)
		go n.handOver(ctx)
	}
	if n.exp != nil {
		go n.exp.run(ctx)
	}
	if len(n.cfg.Peers) > 0 {
		pl := &peers.Poller{Self: n.cfg.Site.ID, Peers: n.cfg.Peers, Interval: n.cfg.Peering.Interval, Failures: n.cfg.Peering.Failures,
			Client: &http.Client{}, Now: n.now, Log: n.log, Events: n.peerEvents}
		go pl.Run(ctx)
	}
	if n.cfg.Deadman.URL != "" {
		dm := &deadman{cfg: n.cfg.Deadman, healthy: n.health, log: n.log, hc: &http.Client{}, agent: "Outpost/" + n.version,
			count: n.met.ObserveDeadman}
		go dm.run(ctx)
	}
}

// peerEvent records a peer going down or up for the operators' channels.
func (n *Node) peerEvent(ev status.Event) {
	if _, err := n.changes.Apply(store.Entry{At: n.now(), Announce: []store.Announcement{{Event: ev, Dests: n.route(ev)}}}); err != nil {
		n.log.Error("could not record a peer event", "error", err)
	}
}

// shutdown stops the listeners, bounded.
func (n *Node) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range []*http.Server{n.public, n.backup, n.opsL, n.plain} {
		if s != nil {
			_ = s.Shutdown(ctx)
		}
	}
}

// Addr is the public listener's address (after Listen).
func (n *Node) Addr() net.Addr { return n.ln.Addr() }

// Close releases the data file.
func (n *Node) Close() {
	if n != nil && n.mach != nil {
		n.mach.Close() // an applier waiting for a matching model gives up
	}
	if n != nil && n.cl != nil {
		if err := n.cl.Close(); err != nil {
			n.log.Error("leaving the cluster", slog.Any("error", err))
		}
	}
	if n != nil && n.st != nil {
		n.st.Close()
	}
}
