package notify

import (
	"slices"
	"time"

	"golang.org/x/time/rate"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// Channel is one configured destination with its rules.
type Channel struct {
	Name     string
	Notifier Notifier
	// Operators channels get private details and operators-only events.
	Operators bool
	// Events limits the event types sent (nil: the audience's defaults).
	Events map[status.EventType]bool
	// Components limits events to these components (nil: all).
	Components map[string]bool
	Texts      *Texts
	// Limit and Count apply the network's length rule (0: none).
	Limit int
	Count Counter
	Rate  rate.Limit
	Burst int
	// MaxAge: a row still undelivered this long after it was written is
	// marked failed and reported, not retried forever.
	MaxAge  time.Duration
	Timeout time.Duration // per send
}

// publicDefaults are what public channels announce by default: incidents
// and maintenance, not every component flicker.
var publicDefaults = map[status.EventType]bool{
	status.IncidentCreated: true, status.IncidentUpdated: true, status.IncidentResolved: true,
	status.MaintenanceScheduled: true, status.MaintenanceStarted: true, status.MaintenanceCompleted: true, status.MaintenanceCancelled: true,
}

// Wants reports whether the channel takes the event.
func (c *Channel) Wants(ev status.Event) bool {
	if ev.Type.OperatorsOnly() && !c.Operators {
		return false
	}
	switch {
	case c.Events != nil && !c.Events[ev.Type]:
		return false
	case c.Events == nil && !c.Operators && !publicDefaults[ev.Type]:
		return false
	}
	if c.Components == nil || (ev.Incident == nil && ev.Component == nil) { // monitor events concern everything
		return true
	}
	return slices.ContainsFunc(ev.ComponentIDs(), func(id string) bool { return c.Components[id] })
}

// Publish is the publish policy for public channels.
type Publish struct {
	Mode  string // auto | delay | manual
	Delay time.Duration
}

// Route names each event's destinations, holding or delaying public
// announcements by the policy; operators are always told at once.
func Route(chs []*Channel, pub Publish) store.Router {
	return func(ev status.Event) []store.Dest {
		var out []store.Dest
		for _, c := range chs {
			if !c.Wants(ev) {
				continue
			}
			if c.Operators {
				out = append(out, store.Dest{Name: c.Name})
			} else {
				out = append(out, PublicDest(c.Name, pub))
			}
		}
		return out
	}
}

// PublicDest is a public destination under the publish policy: delayed
// or held for a person.
func PublicDest(name string, pub Publish) store.Dest {
	d := store.Dest{Name: name}
	switch pub.Mode {
	case "delay":
		d.Delay = pub.Delay
	case "manual":
		d.Hold = true
	}
	return d
}
