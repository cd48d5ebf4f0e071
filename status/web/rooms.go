package web

import (
	"context"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/webhook"
)

// The server is a house of rooms by audience. The public site (the
// prepared bytes, rendered off the engine's goroutine) is the Server
// itself; the rooms that change things are their own types, each holding
// only what it needs, so none reaches into the renderer:
//   - adminRoom: the operators' API (incidents, maintenance, held
//     announcements, audit, screenshots), behind admin tokens;
//   - subscriptionsRoom: public webhook subscriptions and their owners'
//     changes;
//   - heartbeatRoom: push checks' beats.
// Every durable change a room makes is an entry on the Log, or a command
// through Admin.Do; none writes to the store it reads.

// servedSite is what a room sees of the public site: it offers a
// snapshot, waits until what was offered so far is served, and reads the
// snapshot served.
type servedSite interface {
	Offer(*status.Snapshot)
	awaitRender(ctx context.Context)
	Served() *status.Snapshot
}

// adminRoom is the operators' API.
type adminRoom struct {
	admin   *Admin
	st      *store.Store // read only
	changes store.Log
	now     func() time.Time
	site    servedSite
}

// subscriptionsRoom is the public webhook subscription API.
type subscriptionsRoom struct {
	wh      *webhook.Service
	st      *store.Store // read only
	changes store.Log
	now     func() time.Time
	admin   *Admin // nil: no admin tokens, so no listing
}

// heartbeatRoom takes push checks' beats.
type heartbeatRoom struct {
	beats *probes.Beats
}
