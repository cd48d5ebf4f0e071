package probes

import (
	"errors"
	"syscall"
)

// isRefused reports a TCP RST on connect: the host is up, nothing listens.
func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
