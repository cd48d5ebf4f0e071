package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/outpost-status/outpost/status"
)

// postJSON sends v and returns the response body (bounded) after
// classifying the status code.
func postJSON(ctx context.Context, hc *http.Client, url string, v any, what string) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, &PermanentError{Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, &PermanentError{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Outpost")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return out, ClassifyHTTP(resp, what)
}

// colour is an event's colour: impact for incidents, green when resolved.
func colour(ev status.Event) int {
	switch {
	case ev.Type == status.IncidentResolved || ev.Type == status.MaintenanceCompleted || ev.Type == status.MaintenanceCancelled || ev.Type == status.MonitorConnectivityFixed:
		return 0x2e7d32
	case ev.Incident != nil:
		switch ev.Incident.Impact {
		case status.ImpactCritical:
			return 0xcf222e
		case status.ImpactMajor:
			return 0xbc4c00
		case status.ImpactMinor:
			return 0x9a6700
		case status.ImpactMaintenance:
			return 0x0969da
		}
	case ev.Component != nil:
		if ev.Component.NewStatus == status.Operational {
			return 0x2e7d32
		}
		return 0xbc4c00
	}
	return 0x6e7781
}

// details lists failing checks for operators.
func details(m Message) string {
	if !m.Operators || m.Event.Private == nil {
		return ""
	}
	var b strings.Builder
	for _, c := range m.Event.Private.Checks {
		fmt.Fprintf(&b, "• %s: %s %s", c.Name, c.Outcome, c.Reason)
		if c.Message != "" {
			fmt.Fprintf(&b, " (%s)", c.Message)
		}
		b.WriteString("\n")
	}
	return strings.TrimSpace(b.String())
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
