package node

import (
	"log/slog"
)

// Heartbeats in a cluster: a token is a replicated setting, and so is
// each beat (web writes it to the log wherever the job called), so every
// member takes the tokens issued on any member and judges its heartbeat
// checks from the same beats; otherwise a member the job never called
// would find it silent and say the check is down.

// takeSettings takes replicated settings another writer (or this one)
// committed: the heartbeat tokens in force and, in a cluster, each
// heartbeat check's last beat.
func (n *Node) takeSettings() {
	cfg := n.mon.Config()
	n.beats.SetTokens(heartbeatHashes(cfg, n.st, n.log))
	if n.cl == nil {
		return // one Outpost keeps its beats in memory only
	}
	for _, c := range cfg.Checks {
		if c.Kind != "heartbeat" {
			continue
		}
		at, failed, ok, err := n.st.LastBeat(c.Name)
		if err != nil {
			n.log.Error("heartbeat's last beat unreadable", slog.String("check", c.Name), slog.Any("error", err))
			continue
		}
		if ok {
			n.beats.Heard(c.Name, at, failed)
		}
	}
}
