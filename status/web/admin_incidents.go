package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/statuspage"
)

type incidentBody struct {
	Name       *string           `json:"name"`
	Status     string            `json:"status"`
	Impact     string            `json:"impact"`
	Message    string            `json:"message"`
	Components map[string]string `json:"components"`
}

func (a *adminRoom) validIncident(b incidentBody, creating bool) (status.Command, error) {
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
	known := statuspage.ComponentNames(a.site.Served())
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
func (a *adminRoom) apply(c echo.Context, code int, cmd status.Command) error {
	cmd.Author = actor(c)
	if cmd.IncidentID != "" { // the engine may no longer keep an old incident
		if inc, err := a.st.Incident(cmd.IncidentID); err == nil {
			cmd.Loaded = inc
		}
	}
	replies, err := a.admin.Do(c.Request().Context(), cmd)
	if errors.Is(err, status.ErrNotCommitted) {
		return echo.NewHTTPError(http.StatusServiceUnavailable, status.ErrNotCommitted.Error()).SetInternal(err)
	}
	for _, lost := range []error{status.ErrOutcomeUnknown, status.ErrAnswerLost} {
		if errors.Is(err, lost) {
			// No Retry-After: a blind retry could make the change twice.
			return echo.NewHTTPError(http.StatusGatewayTimeout, lost.Error()).SetInternal(err)
		}
	}
	if err != nil {
		return err
	}
	// The page shows the change when the answer comes. The snapshot of
	// the command's step is offered here, not left to the node's relay,
	// which may not have offered it yet.
	if a.admin.Snapshot != nil {
		a.site.Offer(a.admin.Snapshot())
	}
	a.site.awaitRender(c.Request().Context())
	if r := replies[0]; r.Err != "" {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, r.Err)
	} else if cmd.IncidentID == "" {
		cmd.IncidentID = r.IncidentID
	}
	inc, err := a.st.Incident(cmd.IncidentID)
	if err != nil {
		return err
	}
	return c.JSON(code, map[string]any{"incident": inc})
}

func (a *adminRoom) createIncident(c echo.Context) error {
	var b incidentBody
	if err := decode(c, &b); err != nil {
		return err
	}
	cmd, err := a.validIncident(b, true)
	if err != nil {
		return err
	}
	cmd.Kind = status.CreateIncident
	return a.apply(c, http.StatusCreated, cmd)
}

func (a *adminRoom) addUpdate(c echo.Context) error {
	var b incidentBody
	if err := decode(c, &b); err != nil {
		return err
	}
	if strings.TrimSpace(b.Message) == "" {
		return fieldError("message", "message is required")
	}
	cmd, err := a.validIncident(b, false)
	if err != nil {
		return err
	}
	cmd.Kind, cmd.IncidentID = status.UpdateIncident, c.Param("id")
	return a.apply(c, http.StatusCreated, cmd)
}

func (a *adminRoom) patchIncident(c echo.Context) error {
	var b incidentBody
	if err := decode(c, &b); err != nil {
		return err
	}
	cmd, err := a.validIncident(b, false)
	if err != nil {
		return err
	}
	cmd.Kind, cmd.IncidentID = status.UpdateIncident, c.Param("id")
	return a.apply(c, http.StatusOK, cmd)
}

func (a *adminRoom) listIncidents(c echo.Context) error {
	incs, err := a.st.Incidents(50, func(i *status.Incident) bool { return i.Maintenance == nil }, nil)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"incidents": nonNil(incs)})
}

func (a *adminRoom) listMaintenances(c echo.Context) error {
	incs, err := a.st.Incidents(50, func(i *status.Incident) bool { return i.Maintenance != nil }, nil)
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

func (a *adminRoom) editUpdate(c echo.Context) error {
	var b struct {
		Message string `json:"message"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	if strings.TrimSpace(b.Message) == "" || len(b.Message) > 5000 {
		return fieldError("message", "message must be 1 to 5000 characters")
	}
	return a.apply(c, http.StatusOK, status.Command{Kind: status.EditUpdate, IncidentID: c.Param("id"), UpdateID: c.Param("uid"), Body: b.Message})
}

func (a *adminRoom) deleteUpdate(c echo.Context) error {
	return a.apply(c, http.StatusOK, status.Command{Kind: status.DeleteUpdate, IncidentID: c.Param("id"), UpdateID: c.Param("uid")})
}

func (a *adminRoom) postmortem(c echo.Context) error {
	var b struct {
		Body string `json:"body"`
	}
	if err := decode(c, &b); err != nil {
		return err
	}
	if strings.TrimSpace(b.Body) == "" || len(b.Body) > 50000 {
		return fieldError("body", "body (Markdown) must be 1 to 50000 characters")
	}
	return a.apply(c, http.StatusOK, status.Command{Kind: status.AddPostmortem, IncidentID: c.Param("id"), Body: b.Body})
}
