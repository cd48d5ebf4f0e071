// Package status is Outpost's engine: a pure, deterministic state machine
// that turns probe results, the time and human commands into check,
// component and incident state plus events. It does no I/O; ids and times
// are derived from its inputs, so the same batch applied to the same state
// gives byte-identical output on any node.
package status

// ComponentStatus is a component's public status (Statuspage vocabulary).
type ComponentStatus string

// Component statuses, plus Outpost's own honest "no recent data".
const (
	Operational         ComponentStatus = "operational"
	DegradedPerformance ComponentStatus = "degraded_performance"
	PartialOutage       ComponentStatus = "partial_outage"
	MajorOutage         ComponentStatus = "major_outage"
	UnderMaintenance    ComponentStatus = "under_maintenance"
)

// severity orders statuses from best to worst for "worst of" roll-ups.
// Maintenance ranks above operational (it is news) but below failures.
func (s ComponentStatus) severity() int {
	switch s {
	case Operational:
		return 0
	case UnderMaintenance:
		return 1
	case DegradedPerformance:
		return 2
	case PartialOutage:
		return 3
	case MajorOutage:
		return 4
	}
	return 0
}

// IsOutage reports partial or major outage: what opens an incident.
func (s ComponentStatus) IsOutage() bool { return s == PartialOutage || s == MajorOutage }

// Worst returns the more severe status.
func Worst(a, b ComponentStatus) ComponentStatus {
	if b.severity() > a.severity() {
		return b
	}
	return a
}

// Impact is an incident's impact and the page indicator.
type Impact string

// Impacts and indicators (Statuspage vocabulary).
const (
	ImpactNone        Impact = "none"
	ImpactMinor       Impact = "minor"
	ImpactMajor       Impact = "major"
	ImpactCritical    Impact = "critical"
	ImpactMaintenance Impact = "maintenance"
)

// ImpactOf maps the worst component status to an impact, as DESIGN says.
func ImpactOf(s ComponentStatus) Impact {
	switch s {
	case DegradedPerformance:
		return ImpactMinor
	case PartialOutage:
		return ImpactMajor
	case MajorOutage:
		return ImpactCritical
	case UnderMaintenance:
		return ImpactMaintenance
	}
	return ImpactNone
}

func (i Impact) rank() int {
	switch i {
	case ImpactMinor:
		return 1
	case ImpactMajor:
		return 2
	case ImpactCritical:
		return 3
	}
	return 0
}

// Description is the page banner text for an indicator.
func (i Impact) Description() string {
	switch i {
	case ImpactMinor:
		return "Minor Service Outage"
	case ImpactMajor:
		return "Partial System Outage"
	case ImpactCritical:
		return "Major Service Outage"
	case ImpactMaintenance:
		return "Service Under Maintenance"
	}
	return "All Systems Operational"
}

// IncidentStatus is an incident's lifecycle state.
type IncidentStatus string

// Incident statuses (Statuspage vocabulary).
const (
	Investigating IncidentStatus = "investigating"
	Identified    IncidentStatus = "identified"
	Monitoring    IncidentStatus = "monitoring"
	Resolved      IncidentStatus = "resolved"
	Postmortem    IncidentStatus = "postmortem"
)

// Maintenance statuses (Statuspage's scheduled maintenance vocabulary).
const (
	MaintScheduled  IncidentStatus = "scheduled"
	MaintInProgress IncidentStatus = "in_progress"
	MaintVerifying  IncidentStatus = "verifying"
	MaintCompleted  IncidentStatus = "completed"
	// MaintCancelled is a window withdrawn by a person. Statuspage's enum
	// has no such status: /api/v2 shows "completed" with outpost_cancelled.
	MaintCancelled IncidentStatus = "cancelled"
)

// Valid reports a known incident status.
func (s IncidentStatus) Valid() bool {
	switch s {
	case Investigating, Identified, Monitoring, Resolved, Postmortem:
		return true
	}
	return false
}

// Closed reports resolved, postmortem, completed or cancelled.
func (s IncidentStatus) Closed() bool {
	return s == Resolved || s == Postmortem || s == MaintCompleted || s == MaintCancelled
}

// EventType names an event: outbox rows, webhook types, channel filters.
type EventType string

// The event vocabulary shared with DESIGN.
const (
	IncidentCreated          EventType = "incident.created"
	IncidentUpdated          EventType = "incident.updated"
	IncidentResolved         EventType = "incident.resolved"
	ComponentStatusChanged   EventType = "component.status_changed"
	MaintenanceScheduled     EventType = "maintenance.scheduled"
	MaintenanceStarted       EventType = "maintenance.started"
	MaintenanceCompleted     EventType = "maintenance.completed"
	MaintenanceCancelled     EventType = "maintenance.cancelled"
	MonitorDelayed           EventType = "monitor.delayed"
	MonitorConnectivityLost  EventType = "monitor.connectivity_degraded"
	MonitorConnectivityFixed EventType = "monitor.connectivity_restored"
	MonitorPeerDown          EventType = "monitor.peer_down"
	MonitorPeerUp            EventType = "monitor.peer_up"
	CheckCertificateExpiring EventType = "check.certificate_expiring"
	CheckWarning             EventType = "check.warning"
	CheckWarningCleared      EventType = "check.warning_cleared"
	DeliveryFailed           EventType = "delivery.failed"
	// In a cluster's vote: a check fails from some locations only; it is
	// fine from all again; too few locations can see to confirm a verdict.
	CheckRegional        EventType = "check.regional"
	CheckRegionalCleared EventType = "check.regional_cleared"
	CheckUnconfirmed     EventType = "check.unconfirmed"
)

// OperatorsOnly reports events that never reach public channels.
func (t EventType) OperatorsOnly() bool {
	switch t {
	case MonitorDelayed, MonitorConnectivityLost, MonitorConnectivityFixed, MonitorPeerDown, MonitorPeerUp,
		CheckCertificateExpiring, CheckWarning, CheckWarningCleared, DeliveryFailed,
		CheckRegional, CheckRegionalCleared, CheckUnconfirmed:
		return true
	}
	return false
}
