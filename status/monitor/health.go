package monitor

import "time"

// Health is liveness: the engine loop steps, the store commits and the
// scheduler fires. It is false, with the reason, when any of them stalls.
func (m *Monitor) Health() (bool, string) {
	now := m.o.Now()
	if e := m.commitErr.Load(); e != nil {
		return false, "store commit failing: " + *e
	}
	if last := time.Unix(0, m.lastStep.Load()); m.lastStep.Load() != 0 && now.Sub(last) > 3*m.o.PublishEvery+5*time.Second {
		return false, "engine loop stalled since " + last.UTC().Format(time.RFC3339)
	}
	cfg := m.cfg.Load()
	if len(cfg.Checks) == 0 {
		return true, ""
	}
	shortest := cfg.Checks[0].Every
	for _, c := range cfg.Checks {
		shortest = min(shortest, c.Every)
	}
	if tick := m.sched.Load().LastTick(); now.Sub(tick) > 2*shortest+10*time.Second {
		return false, "scheduler has not fired since " + tick.Format(time.RFC3339)
	}
	return true, ""
}

// Details is what /api/v1/health reports about the monitor.
type Details struct {
	SchedulerLastTick time.Time `json:"scheduler_last_tick"`
	SchedulerRuns     uint64    `json:"scheduler_runs"`
	SchedulerSkipped  uint64    `json:"scheduler_skipped"`
	StoreLastCommit   time.Time `json:"store_last_commit"`
	Commits           uint64    `json:"commits"`
	LastCommitMS      float64   `json:"last_commit_ms"`
	CommitError       string    `json:"commit_error,omitempty"`
	Healthy           bool      `json:"healthy"`
	Reason            string    `json:"reason,omitempty"`
}

// Details reports the monitor's liveness evidence.
func (m *Monitor) Details() Details {
	sched := m.sched.Load()
	runs, skipped := sched.Counts()
	n, last := m.Commits()
	d := Details{SchedulerLastTick: sched.LastTick(), SchedulerRuns: runs, SchedulerSkipped: skipped,
		StoreLastCommit: m.o.Store.LastCommit(), Commits: n, LastCommitMS: float64(last.Microseconds()) / 1000}
	if e := m.commitErr.Load(); e != nil {
		d.CommitError = *e
	}
	d.Healthy, d.Reason = m.Health()
	return d
}
