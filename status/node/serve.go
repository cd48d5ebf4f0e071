package node

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

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

// BackupSocket is where a running Outpost serves consistent copies of its
// data file to `outpost backup` and its site to `outpost export`; file
// permissions guard it.
func BackupSocket(dataPath string) string { return dataPath + ".sock" }

func (n *Node) listenBackup() (*http.Server, error) {
	sock := BackupSocket(n.cfg.Storage.Path)
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
		copyOf := n.st.Backup // the replicated file: what a restore needs
		if r.URL.Query().Get("file") == "local" {
			copyOf = n.st.BackupLocal // for verify: the node-local file
		}
		if _, err := copyOf(w); err != nil {
			n.log.Error("backup failed", "error", err)
		}
	})
	mux.HandleFunc("POST /heartbeat-token", func(w http.ResponseWriter, r *http.Request) {
		token, err := IssueHeartbeatToken(n.mon.Config(), n.changes, r.URL.Query().Get("check"), n.now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n.beats.SetTokens(heartbeatHashes(n.mon.Config(), n.st, n.log)) // the new token works at once
		io.WriteString(w, token)
	})
	mux.HandleFunc("GET /export", func(w http.ResponseWriter, r *http.Request) {
		files, err := n.srv.Files(n.mon.Snapshot())
		if err != nil {
			n.log.Error("export failed", "error", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/x-tar")
		_ = web.WriteTar(w, files, n.now())
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
func listenOperators(o config.Operators, h http.Handler, log *slog.Logger) (*http.Server, error) {
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
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() { _ = hs.Serve(ln) }()
	log.Info("operators' surfaces", "operators_listen", ln.Addr().String())
	return hs, nil
}

// adminAPI enables the admin API when tokens are configured; only hashes
// of the tokens are kept.
func adminAPI(cfg *config.Config, mon *monitor.Monitor) *web.Admin {
	if len(cfg.Admin.Tokens) == 0 {
		return nil
	}
	a := &web.Admin{Do: mon.Do, Snapshot: mon.Snapshot}
	for _, t := range cfg.Admin.Tokens {
		a.Tokens = append(a.Tokens, web.AdminToken{Name: t.Name, Hash: store.HashToken(t.Token), ReadOnly: t.ReadOnly})
	}
	return a
}

// heartbeatHashes maps the heartbeat checks of cfg to their token hashes.
// A hash that cannot be read is left out (its beats are refused) and
// logged.
func heartbeatHashes(cfg *config.Config, st *store.Store, log *slog.Logger) map[string]string {
	out := map[string]string{}
	for _, c := range cfg.Checks {
		if c.Kind != "heartbeat" {
			continue
		}
		h, err := st.HeartbeatHash(c.Name)
		if err != nil {
			log.Error("heartbeat token unreadable; beats refused", "check", c.Name, "error", err)
		}
		if h != "" {
			out[c.Name] = h
		}
	}
	return out
}

// IssueHeartbeatToken makes a new token for a heartbeat check.
func IssueHeartbeatToken(cfg *config.Config, changes store.Log, check string, now time.Time) (string, error) {
	c, ok := cfg.CheckByName(check)
	if !ok || c.Kind != "heartbeat" {
		return "", fmt.Errorf("no heartbeat check named %q", check)
	}
	token, setting, err := store.NewHeartbeatToken(check)
	if err != nil {
		return "", err
	}
	if _, err := changes.Apply(store.Entry{At: now, Settings: []store.Setting{setting}}); err != nil {
		return "", err
	}
	return token, nil
}

// peerHandler serves the signed health summary when peers are configured.
func peerHandler(cfg *config.Config, health func() (bool, string)) http.Handler {
	if len(cfg.Peers) == 0 {
		return nil
	}
	return peers.Handler(cfg.Site.ID, cfg.Peers, health, time.Now)
}

// webhookService sets up public webhook subscriptions when enabled.
func webhookService(cfg *config.Config, st *store.Store, changes store.Log, log *slog.Logger, met *metrics.Metrics, mon *monitor.Monitor) *webhook.Service {
	w := cfg.Webhooks
	if !w.Enabled {
		return nil
	}
	site := statuspage.Site{ID: cfg.Site.ID, Name: cfg.Site.Title, URL: cfg.Site.URL, TimeZone: cfg.Site.TimeZone, Location: cfg.Site.Location}
	return webhook.New(webhook.Options{Store: st, Log: changes, Logger: log, Site: site, AllowHTTP: w.AllowHTTP, AllowPrivate: w.AllowPrivateTargets,
		PerClient: w.PerClient, Workers: w.Concurrency, PerHost: w.PerHost, Timeout: w.Timeout, Claim: cfg.Cluster != nil,
		Components: func(id string) bool { _, ok := mon.Config().ComponentByID(id); return ok },
		Observe:    met.ObserveDelivery})
}

// withSubscribers adds a subscriber kind's destination (dest), under the
// publish policy, to the events that kind can want; its fan-out applies
// each subscriber's own choice.
func withSubscribers(route store.Router, cfg *config.Config, on bool, dest string, wants func(status.Event) bool) store.Router {
	if !on {
		return route
	}
	pub := notify.Publish{Mode: cfg.Publish.Mode, Delay: cfg.Publish.Delay}
	return func(ev status.Event) []store.Dest {
		dests := route(ev)
		if wants(ev) {
			dests = append(dests, notify.PublicDest(dest, pub))
		}
		return dests
	}
}

// backlog is the outbox depth per destination for /metrics; each
// subscriber kind on ("@webhooks", "@email") also counts its deliveries
// not yet made to subscribers.
func backlog(st *store.Store, webhooks, email bool) func() (map[string]store.Depth, error) {
	kinds := map[string]store.SubKind{}
	if webhooks {
		kinds[store.WebhooksDest] = store.KindWebhook
	}
	if email {
		kinds[store.EmailDest] = store.KindEmail
	}
	return func() (map[string]store.Depth, error) {
		depth, err := st.OutboxDepth()
		if err != nil {
			return nil, err
		}
		for dest, kind := range kinds {
			ws, err := st.SubscriberStats(kind)
			if err != nil {
				return nil, err
			}
			if ws.Open > 0 {
				d := depth[dest]
				d.Pending += ws.Open
				if d.Oldest.IsZero() || ws.OldestOpen.Before(d.Oldest) {
					d.Oldest = ws.OldestOpen
				}
				depth[dest] = d
			}
		}
		return depth, nil
	}
}

// subscriberCounts is /metrics' subscribers by state, for the kinds on.
func subscriberCounts(st *store.Store, webhooks, email bool) func() (map[store.SubKind]map[store.SubState]int, error) {
	var kinds []store.SubKind
	if webhooks {
		kinds = append(kinds, store.KindWebhook)
	}
	if email {
		kinds = append(kinds, store.KindEmail)
	}
	return func() (map[store.SubKind]map[store.SubState]int, error) {
		counts := map[store.SubKind]map[store.SubState]int{}
		for _, kind := range kinds {
			ws, err := st.SubscriberStats(kind)
			if err != nil {
				return nil, err
			}
			counts[kind] = ws.Subscriptions
		}
		return counts, nil
	}
}
