package email

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: a
// session's connection, its context hook, or a fake server's handler.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
