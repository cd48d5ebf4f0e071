package node

import (
	"time"

	"github.com/outpost-status/outpost/status/monitor"
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
	DispatcherPasses uint64 `json:"dispatcher_passes"`
	// LocalWriteErrors counts writes to the node-local file that failed
	// after their entry committed (store.LocalErrors): each lost a step's
	// raw results or a prune of them.
	LocalWriteErrors uint64       `json:"local_write_errors"`
	Config           configHealth `json:"config"`
	// Webhooks: subscriptions by state and the delivery backlog (when on).
	Webhooks *store.WebhookStats `json:"webhooks,omitempty"`
	// Email: the same for email subscribers (with an email section).
	Email *store.WebhookStats `json:"email,omitempty"`
	// Cluster: this member's view of the cluster (with a cluster section).
	Cluster *clusterHealth `json:"cluster,omitempty"`
}

// clusterHealth is a member's view: who it is, whom it follows, raft's
// term and indexes as raft reports them.
type clusterHealth struct {
	Node         string `json:"node"`
	Location     string `json:"location,omitempty"`
	Leader       string `json:"leader"` // "" while none is known
	State        string `json:"state"`  // Leader, Follower, Candidate, Shutdown
	Term         string `json:"term"`
	CommitIndex  string `json:"commit_index"`
	AppliedIndex string `json:"applied_index"`
	LastContact  string `json:"last_contact"`
	// Mismatch says how cluster.nodes differs from raft's configuration
	// (a reload not yet on every member, or a change under way).
	Mismatch string `json:"mismatch,omitempty"`
	Removed  bool   `json:"removed,omitempty"` // the leader removed this member: stop it
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

// healthDetails is the body of /api/v1/health, on the node's clock. A
// part that cannot be read is left out of the body and logged.
func (n *Node) healthDetails() healthBody {
	d := n.mon.Details()
	b := healthBody{Status: "ok", Version: n.version, Monitor: d, Outbox: map[string]outboxHealth{}, Config: n.rl.state(),
		DispatcherPasses: n.disp.Passes(), LocalWriteErrors: n.st.LocalErrors()}
	if ok, reason := n.healthOf(d.Healthy, d.Reason); !ok {
		b.Status, b.Reason = "unhealthy", reason
	}
	now := n.now()
	if depth, err := n.st.OutboxDepth(); err != nil {
		n.log.Error("health details: outbox unreadable", "error", err)
	} else {
		for dest, x := range depth {
			b.Outbox[dest] = outboxHealth{Pending: x.Pending, OldestAgeSeconds: now.Sub(x.Oldest).Seconds()}
		}
	}
	if n.wh != nil {
		if ws, err := n.st.WebhookStats(); err != nil {
			n.log.Error("health details: webhook statistics unreadable", "error", err)
		} else {
			b.Webhooks = &ws
		}
	}
	if n.mail != nil {
		if es, err := n.st.SubscriberStats(store.KindEmail); err != nil {
			n.log.Error("health details: email statistics unreadable", "error", err)
		} else {
			b.Email = &es
		}
	}
	if n.cl != nil {
		st := n.cl.Stats()
		b.Cluster = &clusterHealth{Node: n.cl.ID(), Location: n.cfg.Cluster.Self().Location, Leader: n.cl.Leader(), State: st["state"],
			Term: st["term"], CommitIndex: st["commit_index"], AppliedIndex: st["applied_index"], LastContact: st["last_contact"],
			Mismatch: n.cl.Mismatch(), Removed: n.cl.Removed()}
	}
	return b
}

// health is the node's liveness for /healthz: the monitor's, and a store
// that has stopped applying its log (an entry it cannot decode or could
// not apply) comes first, since nothing else moves until a restarted
// Outpost replays it.
func (n *Node) health() (bool, string) { return n.healthOf(n.mon.Health()) }

// healthOf is the node's liveness given the monitor's (ok, reason).
func (n *Node) healthOf(ok bool, reason string) (bool, string) {
	if err := n.st.Halted(); err != nil {
		return false, err.Error()
	}
	if why := n.mach.Stalled(); why != "" {
		return false, why
	}
	return ok, reason
}
