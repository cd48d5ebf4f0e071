package probes

import (
	"context"
	"fmt"
	"net"
	"sort"
	"time"
)

// Probe runs one check against its target. Run never panics and never
// returns a Go error for a failing target; it honours ctx's deadline.
type Probe interface {
	Run(ctx context.Context) Result
}

// Version is reported in the User-Agent of HTTP probes; cmd/outpost sets it
// at build time through the Options it passes to New.
const defaultVersion = "dev"

// Options carries process-wide settings every constructor may need.
type Options struct {
	Version string // for the User-Agent: Outpost/<version>
	BaseDir string // relative file paths (ca_file) resolve against it
	// Resolver looks up target host names; nil means the system resolver.
	// Tests point it at a DNS server on loopback.
	Resolver *net.Resolver
	// Beats receives pushed heartbeats (kind heartbeat); nil where nothing
	// serves them (outpost check, outpost probe).
	Beats *Beats
	// Browser drives browser checks; nil: none configured.
	Browser *Browser
}

// dialer is the one place probes get a net.Dialer, so all of them use the
// configured resolver.
func (o Options) dialer() *net.Dialer { return &net.Dialer{Resolver: o.Resolver} }

// FieldError is a configuration problem with one field of a Spec. Field is
// the YAML path below the check (for example "expect.status"), so the config
// loader can point at the file line.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Constructor validates a Spec and builds a Probe from it.
type Constructor func(spec Spec, opts Options) (Probe, error)

// registry maps a kind name to its constructor. Adding a kind is one new file
// whose init-free constructor is listed here.
var registry = map[string]Constructor{
	"http":      newHTTP,
	"tcp":       newTCP,
	"tls":       newTLS,
	"dns":       newDNS,
	"heartbeat": newHeartbeat,
	"icmp":      newICMP,
	"grpc":      newGRPC,
	"websocket": newWebSocket,
	"api":       newAPI,
	"domain":    newDomain,
	"browser":   newBrowserCheck,
}

// Kinds lists the registered probe kinds, sorted.
func Kinds() []string {
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// New builds the probe of spec.Kind. Errors are *FieldError where a field is
// at fault.
func New(spec Spec, opts Options) (Probe, error) {
	c, ok := registry[spec.Kind]
	if !ok {
		return nil, fieldErr("kind", "unknown kind %q (known: %v)", spec.Kind, Kinds())
	}
	if opts.Version == "" {
		opts.Version = defaultVersion
	}
	if spec.Target == "" && spec.Kind != "heartbeat" && spec.Kind != "api" && spec.Kind != "browser" {
		return nil, fieldErr("target", "is required for kind %s", spec.Kind)
	}
	return c(spec, opts)
}

// elapsed is a small helper so every probe measures latency the same way.
func elapsed(start time.Time) time.Duration { return time.Since(start) }
