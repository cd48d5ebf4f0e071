package main

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"testing"
)

// The collector's default is Outpost's only while the operator has said
// nothing: GOGC or GOMEMLIMIT in the environment leaves the runtime as the
// operator set it, and whichever way it went, the start's log says so.
func TestGCDefaultOnlyWhenTheEnvironmentIsSilent(t *testing.T) {
	ours := "gogc=" + strconv.Itoa(defaultGCPercent)
	tests := []struct {
		name    string
		env     map[string]string
		want    int // the percent set, 0 for untouched
		logHas  string
		logLack string
	}{
		{"neither set", nil, defaultGCPercent, ours, "operator"},
		{"GOGC set", map[string]string{"GOGC": "100"}, 0, "GOGC", ours},
		{"GOGC off", map[string]string{"GOGC": "off"}, 0, "GOGC", ours},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "200MiB"}, 0, "GOMEMLIMIT", ours},
		// The runtime reads an empty GOGC as unset (100), and so do we.
		{"GOGC empty", map[string]string{"GOGC": ""}, defaultGCPercent, ours, "operator"},
		{"GOMEMLIMIT empty", map[string]string{"GOMEMLIMIT": ""}, defaultGCPercent, ours, "operator"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			set := 0
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			applyGCDefault(log, lookup, func(p int) int { set = p; return 100 })
			if set != tc.want {
				t.Errorf("percent set = %d, want %d", set, tc.want)
			}
			out := buf.String()
			if !strings.Contains(out, tc.logHas) || strings.Contains(out, tc.logLack) {
				t.Errorf("start log %q: want it to name %q and not %q", out, tc.logHas, tc.logLack)
			}
		})
	}
}
