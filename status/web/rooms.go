package web

import (
	"context"
	"log/slog"
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
//   - subscriptionsRoom: public subscriptions (webhook, email), webhook
//     owners' changes, operators' reads and changes of either kind;
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

// subscriptionsRoom is the subscription API: public subscribing (webhook
// or email), webhook owners' changes, operators' reads and changes of
// subscribers of either kind.
type subscriptionsRoom struct {
	wh      *webhook.Service // nil: webhook subscriptions are off
	st      *store.Store     // read only
	changes store.Log
	now     func() time.Time
	admin   *Admin // nil: no admin tokens, so no listing
	// email takes email subscriptions (nil: off), under the subscribe
	// form's own per-client limiter; site gives the components to choose.
	email    EmailSubscriber
	emailLim *addrLimiter
	site     servedSite
	logger   *slog.Logger
}

// heartbeatRoom takes push checks' beats.
type heartbeatRoom struct {
	beats   *probes.Beats
	share   bool      // a cluster: beats go through changes (Options.ShareBeats)
	changes store.Log // the one way in
	now     func() time.Time
}
