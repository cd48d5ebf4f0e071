package status

import (
	"fmt"
	"strings"
	"time"

	"github.com/outpost-status/outpost/probes"
)

// autoIncidents opens, joins, reopens and resolves automatic incidents
// from the components' statuses after this step.
func (e *Engine) autoIncidents(now time.Time) {
	if !e.m.AutoIncidents || !e.s.ConnectivitySince.IsZero() {
		return
	}
	for _, def := range e.inOutage() {
		st := e.s.Components[def.ID]
		if st == nil || !st.Status.IsOutage() || st.Suppressed || st.Manual != "" {
			continue
		}
		if e.canariesUnsettled(st.Since, now) {
			continue // is it them or us? wait for the canaries' word
		}
		if open := e.openAuto(); open != nil {
			e.joinOrWorsen(open, def, st.Status, now)
			continue
		}
		if again := e.recentlyResolved(def.ID, now); again != nil {
			e.reopen(again, def, st.Status, now)
			continue
		}
		e.openIncident(def, st.Status, now)
	}
	for _, inc := range e.sortedIncidents() {
		if inc.Auto && inc.Open() && inc.Maintenance == nil && e.allRecovered(inc) {
			e.resolveAuto(inc, now)
		}
	}
}

// openAuto returns the open automatic incident, if any: new failures join
// it rather than opening parallel incidents.
func (e *Engine) openAuto() *Incident {
	for _, inc := range e.sortedIncidents() {
		if inc.Auto && inc.Open() && inc.Maintenance == nil {
			return inc
		}
	}
	return nil
}

func (e *Engine) recentlyResolved(id string, now time.Time) *Incident {
	var found *Incident
	for _, inc := range e.sortedIncidents() {
		if inc.Auto && !inc.Open() && inc.Maintenance == nil && inc.affects(id) && now.Sub(inc.ResolvedAt) <= e.m.ReopenWindow {
			found = inc // the latest wins
		}
	}
	return found
}

// allRecovered reports an incident none of whose components is still in an
// outage; a component removed by a reload counts as recovered.
func (e *Engine) allRecovered(inc *Incident) bool {
	for _, id := range inc.Components {
		if _, ok := e.m.component(id); !ok {
			continue
		}
		if st := e.s.Components[id]; st != nil && st.Status.IsOutage() && !st.Suppressed {
			return false
		}
	}
	return true
}

func (e *Engine) openIncident(def ComponentDef, status ComponentStatus, now time.Time) {
	id, seq := e.nextID("inc-")
	inc := &Incident{
		ID: id, Seq: seq, Auto: true, Status: Investigating,
		Name:            incidentTitle(def.Name, status),
		Components:      []string{def.ID},
		ComponentStatus: map[string]ComponentStatus{def.ID: status},
		CreatedAt:       now, UpdatedAt: now, StartedAt: e.outageStart(def.ID, now),
	}
	inc.PeriodFrom = inc.StartedAt
	inc.Impact = ImpactOf(status)
	body := fmt.Sprintf("We are investigating %s affecting %s since %s.",
		e.publicReason(def.ID), def.Name, e.clock(inc.StartedAt)) + e.whereText(def, now)
	e.s.Incidents[id] = inc
	u := e.addUpdate(inc, Investigating, body, "", now, []ComponentChange{{Code: def.ID, Name: def.Name, OldStatus: e.previousStatus(def.ID), NewStatus: status}})
	e.emit(Event{Type: IncidentCreated, At: now, Incident: inc, Update: &u, Private: e.privateFor(inc.Components)})
}

func (e *Engine) joinOrWorsen(inc *Incident, def ComponentDef, status ComponentStatus, now time.Time) {
	prev, known := inc.ComponentStatus[def.ID]
	if known && inc.affects(def.ID) && status.severity() <= prev.severity() {
		return // already covered at this level
	}
	inc.ComponentStatus[def.ID] = Worst(prev, status)
	if !known {
		prev = e.previousStatus(def.ID) // joining: what it was before this outage
	}
	if e.causedWithin(def, inc) {
		// Down because a dependency in this incident is: it joins without
		// a post of its own (the page says "affected by" the dependency).
		if !inc.affects(def.ID) {
			inc.Components = e.inPageOrder(append(inc.Components, def.ID))
		}
		e.rescore(inc)
		inc.UpdatedAt = now
		e.ch.Incidents = appendIncident(e.ch.Incidents, inc)
		return
	}
	var body string
	if !inc.affects(def.ID) {
		inc.Components = e.inPageOrder(append(inc.Components, def.ID))
		body = fmt.Sprintf("%s is also affected: we are seeing %s since %s.", def.Name, e.publicReason(def.ID), e.clock(e.outageStart(def.ID, now)))
	} else {
		body = fmt.Sprintf("The impact on %s has grown to a %s.", def.Name, strings.ReplaceAll(string(status), "_", " "))
	}
	body += e.whereText(def, now)
	e.rescore(inc)
	u := e.addUpdate(inc, inc.Status, body, "", now, []ComponentChange{{Code: def.ID, Name: def.Name, OldStatus: prev, NewStatus: status}})
	e.emit(Event{Type: IncidentUpdated, At: now, Incident: inc, Update: &u, Private: e.privateFor(inc.Components)})
}

// causedWithin reports a component one of whose dependencies is in inc and
// in an outage.
func (e *Engine) causedWithin(def ComponentDef, inc *Incident) bool {
	for _, d := range def.DependsOn {
		if st := e.s.Components[d]; inc.affects(d) && st != nil && st.Status.IsOutage() {
			return true
		}
	}
	return false
}

func (e *Engine) reopen(inc *Incident, def ComponentDef, status ComponentStatus, now time.Time) {
	inc.Status, inc.ResolvedAt, inc.PeriodFrom = Investigating, time.Time{}, now
	if !inc.affects(def.ID) {
		inc.Components = e.inPageOrder(append(inc.Components, def.ID))
	}
	inc.ComponentStatus[def.ID] = Worst(inc.ComponentStatus[def.ID], status)
	e.rescore(inc)
	body := fmt.Sprintf("The problem has returned: %s affecting %s again since %s. We are investigating.",
		e.publicReason(def.ID), def.Name, e.clock(now)) + e.whereText(def, now)
	u := e.addUpdate(inc, Investigating, body, "", now, []ComponentChange{{Code: def.ID, Name: def.Name, OldStatus: e.previousStatus(def.ID), NewStatus: status}})
	e.emit(Event{Type: IncidentUpdated, At: now, Incident: inc, Update: &u, Private: e.privateFor(inc.Components)})
}

func (e *Engine) resolveAuto(inc *Incident, now time.Time) {
	names, were := e.names(inc.Components), isAre(len(inc.Components))
	down := HumanDuration(inc.Downtime(now))
	body := fmt.Sprintf("This incident has been resolved. %s %s affected for %s (%s to %s).",
		names, were, down, e.clock(inc.StartedAt), e.clock(now))
	if inc.Outage > 0 { // reopened: the span includes time it was resolved
		body = fmt.Sprintf("This incident has been resolved. %s %s affected for a total of %s between %s and %s.",
			names, were, down, e.clock(inc.StartedAt), e.clock(now))
	}
	var changes []ComponentChange
	for _, id := range inc.Components {
		def, _ := e.m.component(id)
		changes = append(changes, ComponentChange{Code: id, Name: def.Name, OldStatus: inc.ComponentStatus[id], NewStatus: e.s.Components[id].Status})
	}
	e.close(inc, body, "", now, changes)
}

// previousStatus is the status a component had before its current one:
// none ("") when it had no data then, operational for state written
// before it was recorded.
func (e *Engine) previousStatus(id string) ComponentStatus {
	if st := e.s.Components[id]; st != nil && st.PreviousNoData {
		return ""
	}
	if st := e.s.Components[id]; st != nil && st.Previous != "" {
		return st.Previous
	}
	return Operational
}

// close resolves an incident and announces it.
func (e *Engine) close(inc *Incident, body, author string, now time.Time, changes []ComponentChange) {
	inc.end(Resolved, now)
	u := e.addUpdate(inc, Resolved, body, author, now, changes)
	e.emit(Event{Type: IncidentResolved, At: now, Incident: inc, Update: &u})
}

// addUpdate appends a timeline entry and returns it.
func (e *Engine) addUpdate(inc *Incident, status IncidentStatus, body, author string, now time.Time, affected []ComponentChange) Update {
	id, _ := e.nextID("upd-")
	u := Update{ID: id, Status: status, Body: body, CreatedAt: now, UpdatedAt: now, DisplayAt: now, Author: author, Affected: affected}
	inc.Updates = append(inc.Updates, u)
	inc.UpdatedAt = now
	if status == Monitoring && inc.MonitoringAt.IsZero() {
		inc.MonitoringAt = now
	}
	e.ch.Incidents = appendIncident(e.ch.Incidents, inc)
	return u
}

// appendIncident records a changed incident once per step (the latest copy).
func appendIncident(list []*Incident, inc *Incident) []*Incident {
	c := inc.Clone()
	for i, x := range list {
		if x.ID == inc.ID {
			list[i] = c
			return list
		}
	}
	return append(list, c)
}

// rescore sets an incident's impact from the worst status its components
// reached; impact never drops while the incident is open.
func (e *Engine) rescore(inc *Incident) {
	worst := Operational
	for _, s := range inc.ComponentStatus {
		worst = Worst(worst, s)
	}
	if imp := ImpactOf(worst); imp.rank() > inc.Impact.rank() {
		inc.Impact = imp
	}
}

// outageStart is when the component's failing checks first failed: the
// public "since" should be when users started to suffer, not when we
// confirmed it.
func (e *Engine) outageStart(id string, now time.Time) time.Time {
	start := now
	for _, c := range e.m.checksOf(id) {
		cs := e.s.Checks[c.Name]
		if cs == nil || cs.Status != CheckDown {
			continue
		}
		// Since is the confirmation; back off by the confirming runs.
		first := cs.Since
		if cs.LastAt.Equal(cs.Since) && c.RecheckInterval > 0 {
			first = cs.Since.Add(-time.Duration(max(cs.Fails-1, 0)) * c.RecheckInterval)
		}
		if first.Before(start) {
			start = first
		}
	}
	return start
}

// publicReason words the failing checks' reasons for the public, without
// naming checks, targets or raw errors.
func (e *Engine) publicReason(id string) string {
	for _, c := range e.m.checksOf(id) {
		if cs := e.s.Checks[c.Name]; cs != nil && cs.Status == CheckDown {
			return PublicReason(e.downReason(*c, cs))
		}
	}
	return "problems"
}

// PublicReason is the plain-language phrase for a probe reason.
func PublicReason(r probes.Reason) string {
	switch r {
	case probes.ReasonTimeout:
		return "timeouts"
	case probes.ReasonConnectionRefused, probes.ReasonConnectionError:
		return "connection failures"
	case probes.ReasonDNSError, probes.ReasonRcodeMismatch, probes.ReasonAnswerMismatch:
		return "DNS resolution problems"
	case probes.ReasonTLSError, probes.ReasonCertExpired, probes.ReasonCertExpiring:
		return "secure connection (TLS) problems"
	case probes.ReasonDomainExpired, probes.ReasonDomainExpiring:
		return "a domain registration problem"
	case probes.ReasonStatusMismatch, probes.ReasonBodyMismatch, probes.ReasonBannerMismatch:
		return "an elevated error rate"
	case probes.ReasonSlow:
		return "slow responses"
	case probes.ReasonPacketLoss:
		return "packet loss"
	case probes.ReasonNotServing, probes.ReasonServiceUnknown:
		return "an unhealthy service"
	case probes.ReasonMissedHeartbeat, probes.ReasonReportedFailure:
		return "failed scheduled jobs"
	}
	return "problems"
}

func incidentTitle(name string, s ComponentStatus) string {
	if s == MajorOutage {
		return name + " is unavailable"
	}
	return name + " is partially unavailable"
}

func (e *Engine) clock(t time.Time) string { return t.In(e.m.Location).Format("15:04 MST") }

func (e *Engine) names(ids []string) string {
	var ns []string
	for _, id := range ids {
		if d, ok := e.m.component(id); ok {
			ns = append(ns, d.Name)
		} else {
			ns = append(ns, id)
		}
	}
	return ListAnd(ns)
}

func isAre(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

// inPageOrder sorts component ids as the page lists them.
func (e *Engine) inPageOrder(ids []string) []string {
	var out []string
	for _, d := range e.m.Components {
		for _, id := range ids {
			if id == d.ID {
				out = append(out, id)
				break
			}
		}
	}
	return out
}

// HumanDuration is how every public text says how long something lasted:
// "under a minute" below 60 s, whole minutes rounded down ("1 minute",
// "59 minutes"), then hours and minutes ("1 hour", "2 hours 5 minutes").
// The page, the feeds and the posts all use it, so they agree.
func HumanDuration(d time.Duration) string {
	if d < time.Minute {
		return "under a minute"
	}
	if d < time.Hour {
		return plural(int(d/time.Minute), "minute")
	}
	h, m := int(d/time.Hour), int(d/time.Minute)%60
	if m == 0 {
		return plural(h, "hour")
	}
	return plural(h, "hour") + " " + plural(m, "minute")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
