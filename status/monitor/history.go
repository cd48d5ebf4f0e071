package monitor

import (
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
)

// Page history windows.
const (
	BarDays      = 90
	HistoryDays  = 14
	SparkHours   = 24
	historyLimit = 500
)

// history adds stored history to snapshots. Reading 90 days per component
// on every publish would cost more than the rest of a step, so results are
// cached and refreshed on any event or once a minute.
type history struct {
	st        *store.Store
	at        time.Time
	uptime    map[string]status.UptimeView
	incidents []*status.Incident // started within BarDays, newest first
	recent    []*status.Incident // the latest RecentLimit, any age
	stale     bool
}

// RecentLimit is how many incidents the APIs and feeds list.
const RecentLimit = 50

func newHistory(st *store.Store) *history { return &history{st: st, stale: true} }

// invalidate forces a refresh at the next enrich.
func (h *history) invalidate() { h.stale = true }

func (h *history) enrich(s *status.Snapshot, st *status.State, cfg *config.Config, now time.Time) {
	if h.stale || now.Sub(h.at) >= time.Minute || dayStart(now) != dayStart(h.at) {
		h.refresh(st, cfg, now)
	}
	s.Uptime = h.uptime
	s.Recent = h.recent
	cut := now.Add(-HistoryDays * 24 * time.Hour)
	for _, inc := range h.incidents {
		if !inc.Open() && inc.StartedAt.After(cut) {
			s.History = append(s.History, inc)
		}
	}
}

func (h *history) refresh(st *status.State, cfg *config.Config, now time.Time) {
	h.at, h.stale = now, false
	from := dayStart(now).Add(-(BarDays - 1) * 24 * time.Hour)
	incs, _ := h.st.Incidents(historyLimit, nil, func(i *status.Incident) bool { return i.StartedAt.Before(from) && !i.Open() })
	h.incidents = incs
	h.recent, _ = h.st.Incidents(RecentLimit, nil, nil)
	h.uptime = make(map[string]status.UptimeView, len(cfg.Components))
	for _, c := range cfg.Components {
		h.uptime[c.ID] = h.component(c.ID, st.Components[c.ID], cfg, from, now)
	}
}

func (h *history) component(id string, cs *status.ComponentState, cfg *config.Config, from, now time.Time) status.UptimeView {
	days, _ := h.st.ComponentRollups(id, true, from, now.Add(time.Second))
	byDay := map[time.Time]store.ComponentRollup{}
	for _, d := range days {
		byDay[d.Start] = d
	}
	// Today's cell includes the segment not yet rolled up.
	if cs != nil && now.After(cs.AccountedAt) {
		today := byDay[dayStart(now)]
		today.Start = dayStart(now)
		start := cs.AccountedAt
		if start.Before(today.Start) {
			start = today.Start
		}
		today.Add(cs.Status, now.Sub(start))
		byDay[today.Start] = today
	}
	var v status.UptimeView
	var total store.ComponentRollup
	for i := range BarDays {
		day := from.Add(time.Duration(i) * 24 * time.Hour)
		r, ok := byDay[day]
		cell := status.DayView{Date: day, Status: status.Operational, Percent: -1}
		if ok {
			cell.Status, cell.Percent = r.Worst(), r.Uptime()
			for j := range r.MS {
				total.MS[j] += r.MS[j]
			}
		}
		for _, inc := range h.incidents {
			if inc.Maintenance == nil && dayStart(inc.StartedAt).Equal(day) && affects(inc, id) {
				cell.Incidents++
			}
		}
		v.Days = append(v.Days, cell)
	}
	v.Percent = total.Uptime()
	v.Latency = h.sparkline(id, cfg, now)
	v.Windows = map[string]float64{"90d": v.Percent, "24h": h.hours(id, cs, now)}
	for _, w := range []struct {
		name string
		days int
	}{{"7d", 7}, {"30d", 30}} {
		var sum store.ComponentRollup
		cut := dayStart(now).AddDate(0, 0, 1-w.days)
		for start, d := range byDay { // stored days, and today with its open segment
			if !start.Before(cut) {
				for j := range d.MS {
					sum.MS[j] += d.MS[j]
				}
			}
		}
		v.Windows[w.name] = sum.Uptime()
	}
	return v
}

// hours is the uptime over the last 24 hours from hourly roll-ups plus the
// segment not yet rolled up.
func (h *history) hours(id string, cs *status.ComponentState, now time.Time) float64 {
	from := now.Add(-24 * time.Hour)
	rs, _ := h.st.ComponentRollups(id, false, hourStart(from), now.Add(time.Second))
	var sum store.ComponentRollup
	for _, r := range rs {
		for j := range r.MS {
			sum.MS[j] += r.MS[j]
		}
	}
	if cs != nil && now.After(cs.AccountedAt) {
		sum.Add(cs.Status, now.Sub(cs.AccountedAt))
	}
	return sum.Uptime()
}

// sparkline is the mean latency per hour of the component's checks.
func (h *history) sparkline(id string, cfg *config.Config, now time.Time) []float64 {
	from := hourStart(now).Add(-(SparkHours - 1) * time.Hour)
	sum := make([]float64, SparkHours)
	runs := make([]float64, SparkHours)
	for _, c := range cfg.Checks {
		if c.Component != id {
			continue
		}
		hours, _ := h.st.CheckRollups(c.Name, false, from, now.Add(time.Second))
		for _, r := range hours {
			i := int(r.Start.Sub(from) / time.Hour)
			if i >= 0 && i < SparkHours {
				sum[i] += float64(r.LatSum) / 1000
				runs[i] += float64(r.Runs)
			}
		}
	}
	out := make([]float64, SparkHours)
	for i := range out {
		out[i] = -1
		if runs[i] > 0 {
			out[i] = sum[i] / runs[i]
		}
	}
	return out
}

func affects(inc *status.Incident, id string) bool {
	for _, c := range inc.Components {
		if c == id {
			return true
		}
	}
	return false
}

func dayStart(t time.Time) time.Time  { return t.UTC().Truncate(24 * time.Hour) }
func hourStart(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }
