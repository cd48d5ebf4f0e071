package monitor

import (
	"log/slog"

	"github.com/outpost-status/outpost/status"
)

// keepScreenshots keeps failed runs' screenshots in the store's local
// file, before the step's entry (which carries only a reference) goes in:
// node-local data, not through the Log. A failure loses the screenshot
// only.
func (m *Monitor) keepScreenshots(results []status.CheckResult) {
	for _, r := range results {
		if len(r.Result.Screenshot) == 0 {
			continue
		}
		if err := m.o.Store.PutScreenshot(r.Check, r.At, r.Result.Screenshot); err != nil {
			m.o.Logger.Error("screenshot not kept", slog.String("check", r.Check), slog.String("error", err.Error()))
		}
	}
}
