package monitor

import (
	"hash/maphash"
	"log/slog"
	"slices"
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
	log       *slog.Logger
	// failing: the last refresh could not read the store; logged once, and
	// the previous history stays until a refresh works.
	failing bool
	// spark is a refresh's scratch for the checks' hours, one component
	// after another; nil between refreshes.
	spark []store.CheckRollup
}

// RecentLimit is how many incidents the APIs and feeds list.
const RecentLimit = 50

func newHistory(st *store.Store, log *slog.Logger) *history {
	return &history{st: st, stale: true, log: log}
}

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

// refresh reads history from the store. If a read fails, the previous
// history stays (it is old, not wrong), the failure is logged once, and the
// next refresh (a minute on, or the next event) tries again.
func (h *history) refresh(st *status.State, cfg *config.Config, now time.Time) {
	h.at, h.stale = now, false
	err := h.read(st, cfg, now)
	h.spark = nil
	if err != nil {
		if !h.failing {
			h.log.Error("history unreadable; the page keeps the previous history", slog.Any("error", err))
		}
		h.failing = true
		return
	}
	h.failing = false
}

func (h *history) read(st *status.State, cfg *config.Config, now time.Time) error {
	from := dayStart(now).Add(-(BarDays - 1) * 24 * time.Hour)
	incs, err := h.st.Incidents(historyLimit, nil, func(i *status.Incident) bool { return i.StartedAt.Before(from) && !i.Open() })
	if err != nil {
		return err
	}
	recent, err := h.st.Incidents(RecentLimit, nil, nil)
	if err != nil {
		return err
	}
	// Each component's checks, found once: a scan of every check per
	// component is quadratic at thousands of both.
	checksOf := make(map[string][]string, len(cfg.Components))
	for _, c := range cfg.Checks {
		checksOf[c.Component] = append(checksOf[c.Component], c.Name)
	}
	uptime := make(map[string]status.UptimeView, len(cfg.Components))
	days, latency := newInterner[status.DayView](), newInterner[float64]()
	// Each component's days are built in one scratch array; the interner
	// copies only a history it has not seen (most are the same).
	scratch := make([]status.DayView, 0, BarDays)
	for _, c := range cfg.Components {
		u, err := h.component(c.ID, st.Components[c.ID], incs, checksOf[c.ID], from, now, scratch)
		if err != nil {
			return err
		}
		u.Days, u.Latency = days.internCopy(u.Days), latency.intern(u.Latency)
		uptime[c.ID] = u
	}
	h.incidents, h.recent, h.uptime = incs, recent, uptime
	return nil
}

// component is one component's uptime view; its days are built in scratch
// (the caller copies them before the next component).
func (h *history) component(id string, cs *status.ComponentState, incs []*status.Incident, checks []string, from, now time.Time, scratch []status.DayView) (status.UptimeView, error) {
	days, err := h.st.ComponentRollups(id, true, from, now.Add(time.Second))
	if err != nil {
		return status.UptimeView{}, err
	}
	byDay := make(map[time.Time]store.ComponentRollup, len(days)+1)
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
	v := status.UptimeView{Days: scratch[:0]}
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
		for _, inc := range incs {
			if inc.Maintenance == nil && dayStart(inc.StartedAt).Equal(day) && affects(inc, id) {
				cell.Incidents++
			}
		}
		v.Days = append(v.Days, cell)
	}
	v.Percent = total.Uptime()
	if v.Latency, err = h.sparkline(checks, now); err != nil {
		return v, err
	}
	day, err := h.hours(id, cs, now)
	if err != nil {
		return v, err
	}
	v.Windows = map[string]float64{"90d": v.Percent, "24h": day}
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
	return v, nil
}

// hours is the uptime over the last 24 hours from hourly roll-ups plus the
// segment not yet rolled up.
func (h *history) hours(id string, cs *status.ComponentState, now time.Time) (float64, error) {
	from := now.Add(-24 * time.Hour)
	rs, err := h.st.ComponentRollups(id, false, hourStart(from), now.Add(time.Second))
	if err != nil {
		return 0, err
	}
	var sum store.ComponentRollup
	for _, r := range rs {
		for j := range r.MS {
			sum.MS[j] += r.MS[j]
		}
	}
	if cs != nil && now.After(cs.AccountedAt) {
		sum.Add(cs.Status, now.Sub(cs.AccountedAt))
	}
	return sum.Uptime(), nil
}

// sparkline is the mean latency per hour of the given checks.
func (h *history) sparkline(checks []string, now time.Time) ([]float64, error) {
	from := hourStart(now).Add(-(SparkHours - 1) * time.Hour)
	var sum, runs [SparkHours]float64
	// The component's checks in one read into the refresh's scratch: a
	// read each was a transaction and a list per check every minute
	// (3 MiB at 5,000 checks).
	hours, err := h.st.ChecksRollups(checks, false, from, now.Add(time.Second), h.spark[:0])
	h.spark = hours
	if err != nil {
		return nil, err
	}
	for _, r := range hours {
		i := int(r.Start.Sub(from) / time.Hour)
		if i >= 0 && i < SparkHours {
			sum[i] += float64(r.LatSum) / 1000
			runs[i] += float64(r.Runs)
		}
	}
	out := make([]float64, SparkHours)
	for i := range out {
		out[i] = -1
		if runs[i] > 0 {
			out[i] = sum[i] / runs[i]
		}
	}
	return out, nil
}

// interner shares equal slices: most components have the same history
// (green every day, or no data yet), and 90 days each is 5 KB a component.
// Published slices are never changed (status.UptimeView), so sharing is
// safe, and the page's blocks compare shared slices at once.
type interner[T comparable] struct {
	seed maphash.Seed
	seen map[uint64][]T
}

func newInterner[T comparable]() *interner[T] {
	return &interner[T]{seed: maphash.MakeSeed(), seen: map[uint64][]T{}}
}

func (in *interner[T]) intern(s []T) []T {
	h := in.hash(s)
	if prev, ok := in.seen[h]; ok && slices.Equal(prev, s) {
		return prev
	} else if !ok {
		in.seen[h] = s
	}
	return s
}

func (in *interner[T]) hash(s []T) uint64 {
	h := maphash.Comparable(in.seed, len(s))
	for _, v := range s {
		h ^= maphash.Comparable(in.seed, v) + 0x9e3779b97f4a7c15 + h<<6 + h>>2
	}
	return h
}

// internCopy is intern for a slice the caller reuses: a history not seen
// before is kept as a copy.
func (in *interner[T]) internCopy(s []T) []T {
	if s == nil {
		return nil
	}
	h := in.hash(s)
	if prev, ok := in.seen[h]; ok && slices.Equal(prev, s) {
		return prev
	}
	c := slices.Clone(s)
	if _, ok := in.seen[h]; !ok {
		in.seen[h] = c
	}
	return c
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
