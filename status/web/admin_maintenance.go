package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/statuspage"
	"github.com/outpost-status/outpost/status/store"
)

type maintenanceBody struct {
	Name       string   `json:"name"`
	Message    string   `json:"message"`
	Components []string `json:"components"`
	Start      apiTime  `json:"start"`
	End        apiTime  `json:"end"`
}

func (a *adminRoom) createMaintenance(c echo.Context) error {
	var b maintenanceBody
	if err := decode(c, &b); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(b.Name) == "" || len(b.Name) > 200:
		return fieldError("name", "name must be 1 to 200 characters")
	case b.Start.IsZero():
		return fieldError("start", "start is required (RFC 3339)")
	case !b.End.After(b.Start.Time):
		return fieldError("end", "end must be after start")
	case b.End.Sub(b.Start.Time) > 7*24*time.Hour:
		return fieldError("end", "a window lasts at most 7 days")
	case len(b.Components) == 0:
		return fieldError("components", "at least one component is required")
	}
	known := statuspage.ComponentNames(a.site.Served())
	comps := map[string]status.ComponentStatus{}
	for i, id := range b.Components {
		if _, ok := known[id]; !ok {
			return fieldError(fmt.Sprintf("components[%d]", i), "unknown component %q", id)
		}
		comps[id] = status.UnderMaintenance
	}
	return a.apply(c, http.StatusCreated, status.Command{Kind: status.ScheduleMaintenance, Name: b.Name, Body: b.Message,
		Components: comps, Start: b.Start.Time, End: b.End.Time})
}

func (a *adminRoom) cancelMaintenance(c echo.Context) error {
	return a.apply(c, http.StatusOK, status.Command{Kind: status.CancelMaintenance, IncidentID: c.Param("id")})
}

// held lists announcements waiting for a person (publish.mode delay or
// manual) with the destinations they wait on.
func (a *adminRoom) listHeld(c echo.Context) error {
	rows, err := a.st.Unfinished(1000)
	if err != nil {
		return err
	}
	type held struct {
		Seq          uint64                     `json:"seq"`
		Event        status.Event               `json:"event"`
		Destinations map[string]*store.Delivery `json:"destinations"`
	}
	out := []held{}
	now := a.now()
	for _, r := range rows {
		h := held{Seq: r.Seq, Event: r.Event, Destinations: map[string]*store.Delivery{}}
		for name, d := range r.Deliveries {
			if d.State == store.Held || (d.State == store.Pending && d.NextAt.After(now.Add(time.Second))) {
				h.Destinations[name] = d
			}
		}
		if len(h.Destinations) > 0 {
			h.Event.Private = nil
			out = append(out, h)
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"announcements": out})
}

func (a *adminRoom) release(c echo.Context) error { return a.decide(c, true) }

func (a *adminRoom) cancelHeld(c echo.Context) error { return a.decide(c, false) }

// decide releases (sends now) or cancels a held or delayed announcement
// on every destination where it still waits.
func (a *adminRoom) decide(c echo.Context, release bool) error {
	seq, err := strconv.ParseUint(c.Param("seq"), 10, 64)
	if err != nil {
		return fieldError("seq", "seq must be a positive whole number: an announcement's seq, as GET /api/v1/announcements lists them")
	}
	// One transaction: every waiting destination and the audit entry, or
	// nothing (a destination the dispatcher claimed meanwhile is its own).
	res, err := a.changes.Apply(store.Entry{At: a.now(), Decide: &store.Decision{Seq: seq, Release: release, Actor: actor(c)}})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("no announcement %d", seq))
	case errors.Is(err, store.ErrNotWaiting):
		return echo.NewHTTPError(http.StatusConflict, fmt.Sprintf("announcement %d is not waiting on any destination", seq))
	case err != nil:
		return err
	}
	action := map[bool]string{true: "release_announcement", false: "cancel_announcement"}[release]
	return c.JSON(http.StatusOK, map[string]any{"seq": seq, "destinations": res.Changed, "action": action})
}

func (a *adminRoom) patchMaintenance(c echo.Context) error {
	var b struct {
		Name    string  `json:"name"`
		Message string  `json:"message"`
		Start   apiTime `json:"start"`
		End     apiTime `json:"end"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	if len(b.Name) > 200 {
		return fieldError("name", "name must be at most 200 characters")
	}
	if !b.Start.IsZero() && !b.End.IsZero() && b.End.Sub(b.Start.Time) > 7*24*time.Hour {
		return fieldError("end", "a window lasts at most 7 days")
	}
	return a.apply(c, http.StatusOK, status.Command{Kind: status.UpdateMaintenance, IncidentID: c.Param("id"),
		Name: strings.TrimSpace(b.Name), Body: b.Message, Start: b.Start.Time, End: b.End.Time})
}

// deliveries is the delivery log: the latest outbox rows and, per
// destination, state, attempts and last error.
func (a *adminRoom) deliveries(c echo.Context) error {
	rows, err := a.st.RecentOutbox(100)
	if err != nil {
		return err
	}
	type entry struct {
		Seq          uint64                     `json:"seq"`
		Type         status.EventType           `json:"type"`
		EventID      string                     `json:"event_id"`
		CreatedAt    time.Time                  `json:"created_at"`
		Destinations map[string]*store.Delivery `json:"destinations"`
	}
	out := []entry{}
	for _, r := range rows {
		out = append(out, entry{Seq: r.Seq, Type: r.Event.Type, EventID: r.Event.ID, CreatedAt: r.CreatedAt, Destinations: r.Deliveries})
	}
	return c.JSON(http.StatusOK, map[string]any{"deliveries": out})
}
