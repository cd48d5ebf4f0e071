package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// AdminToken is a configured bearer token, kept only as a hash.
type AdminToken struct {
	Name     string
	Hash     [32]byte
	ReadOnly bool
}

// HashToken hashes a token for AdminToken.
func HashToken(t string) [32]byte { return sha256.Sum256([]byte(t)) }

// Admin wires the admin API to the engine.
type Admin struct {
	Tokens []AdminToken
	// Do applies commands in the engine's next step and returns once they
	// are committed.
	Do func(ctx context.Context, cmds ...status.Command) ([]status.Reply, error)
	// Wake tells the dispatcher an announcement was released.
	Wake func()
}

const maxAdminBody = 64 << 10

// adminRoutes mounts the admin API; every route needs a token, and writes a
// token that is not read-only.
func (s *Server) adminRoutes(e *echo.Echo) {
	a := s.o.Admin
	lim := &failLimiter{m: map[string]*rate.Limiter{}}
	g := e.Group("/api/v1", s.auth(a, lim))
	g.GET("/incidents", s.listIncidents)
	g.POST("/incidents", s.createIncident, writer)
	g.POST("/incidents/:id/updates", s.addUpdate, writer)
	g.PATCH("/incidents/:id", s.patchIncident, writer)
	g.PATCH("/incidents/:id/updates/:uid", s.editUpdate, writer)
	g.DELETE("/incidents/:id/updates/:uid", s.deleteUpdate, writer)
	g.POST("/incidents/:id/postmortem", s.postmortem, writer)
	g.GET("/deliveries", s.deliveries)
	g.GET("/maintenances", s.listMaintenances)
	g.POST("/maintenances", s.createMaintenance, writer)
	g.PATCH("/maintenances/:id", s.patchMaintenance, writer)
	g.DELETE("/maintenances/:id", s.cancelMaintenance, writer)
	g.GET("/announcements", s.listHeld)
	g.POST("/announcements/:seq/release", s.release, writer)
	g.POST("/announcements/:seq/cancel", s.cancelHeld, writer)
	g.GET("/audit", s.audit)
}

// failLimiter limits failed authentication per client address.
type failLimiter struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func (f *failLimiter) get(ip string) *rate.Limiter {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.m) > 10000 { // bounded memory under a spray of addresses
		clear(f.m)
	}
	l, ok := f.m[ip]
	if !ok {
		l = rate.NewLimiter(rate.Every(12*time.Second), 5) // 5 failures, then one per 12 s
		f.m[ip] = l
	}
	return l
}

// tokenKey is where auth leaves the caller's token in the echo context.
const tokenKey = "token"

func (s *Server) auth(a *Admin, lim *failLimiter) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set("Cache-Control", CacheNone)
			l := lim.get(c.RealIP())
			if l.Tokens() < 1 {
				return echo.NewHTTPError(http.StatusTooManyRequests, "too many failed attempts from this address; wait a minute")
			}
			got, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
			h := HashToken(got)
			var who *AdminToken
			for i := range a.Tokens { // every token is compared, in constant time
				if subtle.ConstantTimeCompare(h[:], a.Tokens[i].Hash[:]) == 1 && ok && got != "" {
					who = &a.Tokens[i]
				}
			}
			if who == nil {
				l.Allow()
				return echo.NewHTTPError(http.StatusUnauthorized, "a valid bearer token is required")
			}
			c.Set(tokenKey, who)
			return next(c)
		}
	}
}

// writer refuses read-only tokens.
func writer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if t, _ := c.Get(tokenKey).(*AdminToken); t == nil || t.ReadOnly {
			return echo.NewHTTPError(http.StatusForbidden, "this token is read-only")
		}
		return next(c)
	}
}

func actor(c echo.Context) string {
	t, _ := c.Get(tokenKey).(*AdminToken)
	if t == nil {
		return ""
	}
	return t.Name
}

// fieldError is a 400 naming the field at fault.
func fieldError(field, format string, args ...any) error {
	return &echo.HTTPError{Code: http.StatusBadRequest, Message: fmt.Sprintf(format, args...), Internal: fieldErr(field)}
}

type fieldErr string

func (f fieldErr) Error() string { return string(f) }

// decode reads a JSON body strictly: bounded, unknown fields rejected.
func decode(c echo.Context, v any) error {
	dec := json.NewDecoder(io.LimitReader(c.Request().Body, maxAdminBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr):
			return fieldError(typeErr.Field, "%s must be a %s", typeErr.Field, typeErr.Type)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return fieldError(f, "unknown field %q", f)
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return fieldError("", "the body must be a JSON object (at most %d KiB)", maxAdminBody>>10)
		}
		return fieldError("", "invalid JSON: %v", err)
	}
	return nil
}

type incidentBody struct {
	Name       *string           `json:"name"`
	Status     string            `json:"status"`
	Impact     string            `json:"impact"`
	Message    string            `json:"message"`
	Components map[string]string `json:"components"`
}

func (s *Server) validIncident(b incidentBody, creating bool) (status.Command, error) {
	cmd := status.Command{Status: status.IncidentStatus(b.Status), Impact: status.Impact(b.Impact), Body: b.Message}
	if b.Name != nil {
		cmd.Name = strings.TrimSpace(*b.Name)
		if cmd.Name == "" || len(cmd.Name) > 200 {
			return cmd, fieldError("name", "name must be 1 to 200 characters")
		}
	} else if creating {
		return cmd, fieldError("name", "name is required")
	}
	if b.Status != "" && !cmd.Status.Valid() {
		return cmd, fieldError("status", "status must be investigating, identified, monitoring, resolved or postmortem")
	}
	switch cmd.Impact {
	case "", status.ImpactNone, status.ImpactMinor, status.ImpactMajor, status.ImpactCritical:
	default:
		return cmd, fieldError("impact", "impact must be none, minor, major or critical")
	}
	if len(b.Message) > 5000 {
		return cmd, fieldError("message", "message must be at most 5000 characters")
	}
	if creating && strings.TrimSpace(b.Message) == "" {
		return cmd, fieldError("message", "message is required")
	}
	cmd.Components = map[string]status.ComponentStatus{}
	known := componentNames(s.current.Load().snap)
	for id, st := range b.Components {
		if _, ok := known[id]; !ok {
			return cmd, fieldError("components."+id, "unknown component %q", id)
		}
		switch cs := status.ComponentStatus(st); cs {
		case status.Operational, status.DegradedPerformance, status.PartialOutage, status.MajorOutage, status.UnderMaintenance:
			cmd.Components[id] = cs
		default:
			return cmd, fieldError("components."+id, "component status must be operational, degraded_performance, partial_outage, major_outage or under_maintenance")
		}
	}
	return cmd, nil
}

// apply runs commands and answers with the incident they touched.
func (s *Server) apply(c echo.Context, code int, cmd status.Command) error {
	cmd.Author = actor(c)
	if cmd.IncidentID != "" { // the engine may no longer keep an old incident
		if inc, err := s.o.Store.Incident(cmd.IncidentID); err == nil {
			cmd.Loaded = inc
		}
	}
	replies, err := s.o.Admin.Do(c.Request().Context(), cmd)
	if err != nil {
		return err
	}
	if r := replies[0]; r.Err != "" {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, r.Err)
	} else if cmd.IncidentID == "" {
		cmd.IncidentID = r.IncidentID
	}
	inc, err := s.o.Store.Incident(cmd.IncidentID)
	if err != nil {
		return err
	}
	return c.JSON(code, map[string]any{"incident": inc})
}

func (s *Server) createIncident(c echo.Context) error {
	var b incidentBody
	if err := decode(c, &b); err != nil {
		return err
	}
	cmd, err := s.validIncident(b, true)
	if err != nil {
		return err
	}
	cmd.Kind = status.CreateIncident
	return s.apply(c, http.StatusCreated, cmd)
}

func (s *Server) addUpdate(c echo.Context) error {
	var b incidentBody
	if err := decode(c, &b); err != nil {
		return err
	}
	if strings.TrimSpace(b.Message) == "" {
		return fieldError("message", "message is required")
	}
	cmd, err := s.validIncident(b, false)
	if err != nil {
		return err
	}
	cmd.Kind, cmd.IncidentID = status.UpdateIncident, c.Param("id")
	return s.apply(c, http.StatusCreated, cmd)
}

func (s *Server) patchIncident(c echo.Context) error {
	var b incidentBody
	if err := decode(c, &b); err != nil {
		return err
	}
	cmd, err := s.validIncident(b, false)
	if err != nil {
		return err
	}
	cmd.Kind, cmd.IncidentID = status.UpdateIncident, c.Param("id")
	return s.apply(c, http.StatusOK, cmd)
}

func (s *Server) listIncidents(c echo.Context) error {
	incs, err := s.o.Store.Incidents(50, func(i *status.Incident) bool { return i.Maintenance == nil }, nil)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"incidents": nonNil(incs)})
}

func (s *Server) listMaintenances(c echo.Context) error {
	incs, err := s.o.Store.Incidents(50, func(i *status.Incident) bool { return i.Maintenance != nil }, nil)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"maintenances": nonNil(incs)})
}

func nonNil(incs []*status.Incident) []*status.Incident {
	if incs == nil {
		return []*status.Incident{}
	}
	return incs
}

type maintenanceBody struct {
	Name       string    `json:"name"`
	Message    string    `json:"message"`
	Components []string  `json:"components"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
}

func (s *Server) createMaintenance(c echo.Context) error {
	var b maintenanceBody
	if err := decode(c, &b); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(b.Name) == "" || len(b.Name) > 200:
		return fieldError("name", "name must be 1 to 200 characters")
	case b.Start.IsZero():
		return fieldError("start", "start is required (RFC 3339)")
	case !b.End.After(b.Start):
		return fieldError("end", "end must be after start")
	case b.End.Sub(b.Start) > 7*24*time.Hour:
		return fieldError("end", "a window lasts at most 7 days")
	case len(b.Components) == 0:
		return fieldError("components", "at least one component is required")
	}
	known := componentNames(s.current.Load().snap)
	comps := map[string]status.ComponentStatus{}
	for i, id := range b.Components {
		if _, ok := known[id]; !ok {
			return fieldError(fmt.Sprintf("components[%d]", i), "unknown component %q", id)
		}
		comps[id] = status.UnderMaintenance
	}
	return s.apply(c, http.StatusCreated, status.Command{Kind: status.ScheduleMaintenance, Name: b.Name, Body: b.Message,
		Components: comps, Start: b.Start, End: b.End})
}

func (s *Server) cancelMaintenance(c echo.Context) error {
	return s.apply(c, http.StatusOK, status.Command{Kind: status.CancelMaintenance, IncidentID: c.Param("id")})
}

// held lists announcements waiting for a person (publish.mode delay or
// manual) with the destinations they wait on.
func (s *Server) listHeld(c echo.Context) error {
	rows, err := s.o.Store.Unfinished(1000)
	if err != nil {
		return err
	}
	type held struct {
		Seq          uint64                     `json:"seq"`
		Event        status.Event               `json:"event"`
		Destinations map[string]*store.Delivery `json:"destinations"`
	}
	out := []held{}
	now := time.Now()
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

func (s *Server) release(c echo.Context) error { return s.decide(c, true) }

func (s *Server) cancelHeld(c echo.Context) error { return s.decide(c, false) }

// decide releases (sends now) or cancels a held or delayed announcement
// on every destination where it still waits.
func (s *Server) decide(c echo.Context, release bool) error {
	seq, err := strconv.ParseUint(c.Param("seq"), 10, 64)
	if err != nil {
		return fieldError("seq", "seq must be a number")
	}
	row, err := s.o.Store.OutboxRow(seq)
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("no announcement %d", seq))
	}
	if err != nil {
		return err
	}
	now := time.Now()
	changed := 0
	for name, d := range row.Deliveries {
		if d.State != store.Held && !(d.State == store.Pending && d.NextAt.After(now)) {
			continue
		}
		err := s.o.Store.UpdateDelivery(seq, name, now, func(d *store.Delivery) {
			if release {
				d.State, d.NextAt = store.Pending, now
			} else {
				d.State, d.LastError = store.Cancelled, "cancelled by "+actor(c)
			}
		})
		if err != nil {
			return err
		}
		changed++
	}
	if changed == 0 {
		return echo.NewHTTPError(http.StatusConflict, fmt.Sprintf("announcement %d is not waiting on any destination", seq))
	}
	action := map[bool]string{true: "release_announcement", false: "cancel_announcement"}[release]
	if err := s.o.Store.Audit(status.AuditEntry{At: now, Actor: actor(c), Action: action, Target: strconv.FormatUint(seq, 10),
		Detail: fmt.Sprintf("%s %s, %d destination(s)", row.Event.Type, row.Event.ID, changed)}); err != nil {
		return err
	}
	if release && s.o.Admin.Wake != nil {
		s.o.Admin.Wake()
	}
	return c.JSON(http.StatusOK, map[string]any{"seq": seq, "destinations": changed, "action": action})
}

func (s *Server) audit(c echo.Context) error {
	entries, err := s.o.Store.AuditLog(200, time.Time{})
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []status.AuditEntry{}
	}
	return c.JSON(http.StatusOK, map[string]any{"audit": entries})
}

func (s *Server) editUpdate(c echo.Context) error {
	var b struct {
		Message string `json:"message"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	if strings.TrimSpace(b.Message) == "" || len(b.Message) > 5000 {
		return fieldError("message", "message must be 1 to 5000 characters")
	}
	return s.apply(c, http.StatusOK, status.Command{Kind: status.EditUpdate, IncidentID: c.Param("id"), UpdateID: c.Param("uid"), Body: b.Message})
}

func (s *Server) deleteUpdate(c echo.Context) error {
	return s.apply(c, http.StatusOK, status.Command{Kind: status.DeleteUpdate, IncidentID: c.Param("id"), UpdateID: c.Param("uid")})
}

func (s *Server) postmortem(c echo.Context) error {
	var b struct {
		Body string `json:"body"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	if strings.TrimSpace(b.Body) == "" || len(b.Body) > 50000 {
		return fieldError("body", "body (Markdown) must be 1 to 50000 characters")
	}
	return s.apply(c, http.StatusOK, status.Command{Kind: status.AddPostmortem, IncidentID: c.Param("id"), Body: b.Body})
}

// deliveries is the delivery log: the latest outbox rows and, per
// destination, state, attempts and last error.
func (s *Server) deliveries(c echo.Context) error {
	rows, err := s.o.Store.RecentOutbox(100)
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

func (s *Server) patchMaintenance(c echo.Context) error {
	var b struct {
		Name    string    `json:"name"`
		Message string    `json:"message"`
		Start   time.Time `json:"start"`
		End     time.Time `json:"end"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	if len(b.Name) > 200 {
		return fieldError("name", "name must be at most 200 characters")
	}
	if !b.Start.IsZero() && !b.End.IsZero() && b.End.Sub(b.Start) > 7*24*time.Hour {
		return fieldError("end", "a window lasts at most 7 days")
	}
	return s.apply(c, http.StatusOK, status.Command{Kind: status.UpdateMaintenance, IncidentID: c.Param("id"),
		Name: strings.TrimSpace(b.Name), Body: b.Message, Start: b.Start, End: b.End})
}
