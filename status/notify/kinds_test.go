package notify

import (
	"slices"
	"testing"

	"github.com/outpost-status/outpost/status/config"
)

// The channel registry and the config's validation know the same kinds.
func TestKindsMatchTheConfig(t *testing.T) {
	if got, want := Kinds(), config.ChannelKinds(); !slices.Equal(got, want) {
		t.Fatalf("notify kinds %v, config kinds %v", got, want)
	}
}
