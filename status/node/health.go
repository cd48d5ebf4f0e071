package node

import (
	"time"

	"github.com/outpost-status/outpost/status/monitor"
	"github.com/outpost-status/outpost/status/notify"
	"github.com/outpost-status/outpost/status/store"
)

// healthBody is /api/v1/health: the evidence behind /healthz, for people.
type healthBody struct {
	Status  string                  `json:"status"`
	Reason  string                  `json:"reason,omitempty"`
	Version string                  `json:"version"`
	Monitor monitor.Details         `json:"monitor"`
	Outbox  map[string]outboxHealth `json:"outbox"`
	// DispatcherPasses is how many passes over the outbox every channel's
	// worker has made at least: it grows while delivery is alive.
	DispatcherPasses uint64       `json:"dispatcher_passes"`
	Config           configHealth `json:"config"`
	// Webhooks: subscriptions by state and the delivery backlog (when on).
	Webhooks *store.WebhookStats `json:"webhooks,omitempty"`
}

type outboxHealth struct {
	Pending          int     `json:"pending"`
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
}

type configHealth struct {
	File     string    `json:"file"`
	LoadedAt time.Time `json:"loaded_at"`
	// MatchesFile is false when the file on disk differs from the config
	// in force (an edit not yet reloaded, or a rejected reload).
	MatchesFile     bool   `json:"matches_file"`
	LastReloadError string `json:"last_reload_error,omitempty"`
}

func healthDetails(version string, mon *monitor.Monitor, st *store.Store, rl *reloader, disp *notify.Dispatcher, webhooks bool) healthBody {
	d := mon.Details()
	b := healthBody{Status: "ok", Version: version, Monitor: d, Outbox: map[string]outboxHealth{}, Config: rl.state(),
		DispatcherPasses: disp.Passes()}
	if !d.Healthy {
		b.Status, b.Reason = "unhealthy", d.Reason
	}
	if depth, err := st.OutboxDepth(); err == nil {
		for dest, x := range depth {
			b.Outbox[dest] = outboxHealth{Pending: x.Pending, OldestAgeSeconds: time.Since(x.Oldest).Seconds()}
		}
	}
	if webhooks {
		if ws, err := st.WebhookStats(); err == nil {
			b.Webhooks = &ws
		}
	}
	return b
}
