package config

import (
	"github.com/robfig/cron/v3"

	"github.com/outpost-status/outpost/status"
)

// Model builds the engine's view of this config.
func (c *Config) Model() *status.Model {
	m := &status.Model{
		SiteTitle: c.Site.Title, Location: c.Site.Location,
		AutoIncidents: c.Incidents.AutoEnabled(), ReopenWindow: c.Incidents.ReopenWindow,
	}
	// Made at their length: grown by appends, 5,000 checks' definitions
	// kept room for a quarter more.
	if n := len(c.Components); n > 0 { // none stays nil
		m.Components = make([]status.ComponentDef, 0, n)
	}
	if n := len(c.Checks) + len(c.Canaries); n > 0 {
		m.Checks = make([]status.CheckDef, 0, n)
	}
	for _, comp := range c.Components {
		m.Components = append(m.Components, status.ComponentDef{ID: comp.ID, Name: comp.Name, Group: comp.Group, Description: comp.Description,
			DependsOn: comp.DependsOn})
	}
	for _, ch := range c.Checks {
		m.Checks = append(m.Checks, status.CheckDef{Name: ch.Name, Component: ch.Component,
			FailureThreshold: ch.FailureThreshold, SuccessThreshold: ch.SuccessThreshold,
			RecheckInterval: ch.RecheckInterval, Every: ch.Every, Warning: ch.Affects == AffectsWarning,
			Locations: ch.Locations, Vote: status.VoteRule(ch.Vote), Push: ch.Kind == "heartbeat", Host: hostOf(ch.Target)})
	}
	for _, ch := range c.Canaries {
		m.Checks = append(m.Checks, status.CheckDef{Name: ch.Name, Canary: true,
			FailureThreshold: ch.FailureThreshold, SuccessThreshold: ch.SuccessThreshold,
			RecheckInterval: ch.RecheckInterval, Every: ch.Every})
	}
	m.ConnectivityThreshold = c.Connectivity.Threshold
	m.Locations = c.Locations()
	m.Voting = status.Voting{Rule: status.VoteRule(c.Voting.Vote), MinLocations: c.Voting.MinLocations,
		Regional: status.Regional(c.Voting.Regional)}
	for _, w := range c.Maintenance {
		d := status.MaintenanceDef{ID: w.ID, Name: w.Name, Message: w.Message, Components: w.Components,
			Start: w.Start, End: w.End, Duration: w.Duration}
		if w.Schedule != "" {
			d.Schedule, _ = cron.ParseStandard(w.Schedule) // validated at load
		}
		m.Maintenance = append(m.Maintenance, d)
	}
	return m
}
