package web

import (
	"slices"
	"strings"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// What the privacy notice (on /subscribe and the manage page) says is
// kept, and for how long. status/node keeps email deliveries and
// unconfirmed subscribers exactly this long (a test there holds the two
// to each other).
const (
	EmailDeliveriesKept  = 30 * 24 * time.Hour
	EmailUnconfirmedKept = 7 * 24 * time.Hour
)

// privacyView is the privacy notice's numbers.
type privacyView struct{ DeliveryDays, UnconfirmedDays int }

func privacy() privacyView {
	return privacyView{DeliveryDays: int(EmailDeliveriesKept / (24 * time.Hour)), UnconfirmedDays: int(EmailUnconfirmedKept / (24 * time.Hour))}
}

// manageView is an email subscriber's manage page.
type manageView struct {
	// Address is masked: the page is for the link's holder, and a
	// forwarded mail should not hand the whole address on.
	Address        string
	State, Notice  string
	Active, Paused bool
	Events         string // "all" or "incidents", as on /subscribe
	Groups         []subscribeGroup
	Errors         []formError
	Privacy        privacyView
}

// ErrorFor is the message for field, "" when it is fine.
func (v *manageView) ErrorFor(field string) string { return errorFor(v.Errors, field) }

// newManageView is sub's page: the served components by group, as on
// /subscribe, ticked as sub chose (none chosen: all).
func newManageView(sub store.Subscription, snap *status.Snapshot) manageView {
	v := manageView{Address: maskAddress(sub.Address), State: stateText(sub), Active: sub.State == store.SubActive,
		Paused: sub.State == store.SubPaused, Events: "incidents", Privacy: privacy()}
	if sub.Maintenance {
		v.Events = "all"
	}
	v.Groups = choiceGroups(snap, func(id string) bool { return sub.Components == nil || slices.Contains(sub.Components, id) })
	return v
}

// choiceGroups are snap's components by group for a form, ticked as
// ticked says; unnamed groups are called "Components", or "Other
// components" beside named ones.
func choiceGroups(snap *status.Snapshot, ticked func(id string) bool) []subscribeGroup {
	named := false
	for _, g := range snap.Groups {
		named = named || g.Name != ""
	}
	var out []subscribeGroup
	for _, g := range snap.Groups {
		sg := subscribeGroup{Name: g.Name}
		if sg.Name == "" {
			sg.Name = map[bool]string{true: "Other components", false: "Components"}[named]
		}
		for _, comp := range g.Components {
			sg.Components = append(sg.Components, subscribeBox{ID: comp.ID, Name: comp.Name, Checked: ticked(comp.ID)})
		}
		out = append(out, sg)
	}
	return out
}

// stateText says what a subscriber's state means for its mails.
func stateText(sub store.Subscription) string {
	switch sub.State {
	case store.SubActive:
		return "Active: you get a mail about each incident you chose."
	case store.SubPaused:
		return "Paused: no mails are sent to you until you resume."
	case store.SubPending:
		return "Not confirmed yet: use the link in the confirmation mail to start getting mails."
	}
	return "Stopped: the mail server of this address refused our mails, so none are sent. You can unsubscribe or delete your data."
}

// maskAddress shows the first character of the local part and the
// domain: enough for its owner to recognise, little for anyone else.
func maskAddress(a string) string {
	local, domain, ok := strings.Cut(a, "@")
	if !ok || local == "" {
		return "…"
	}
	return local[:1] + "…@" + domain
}
