package web

import (
	"net/http"
	"net/http/pprof"

	"github.com/labstack/echo/v4"
)

// mountProfiles serves net/http/pprof on the operators' listener so that
// the next regression in memory or CPU is found from a running node in
// minutes (`go tool pprof http://OPS/debug/pprof/heap`). Profiles name
// functions, goroutines and the command line, so they never go on the
// public listener.
func mountProfiles(e *echo.Echo) {
	named := map[string]http.HandlerFunc{
		"/debug/pprof/cmdline": pprof.Cmdline,
		"/debug/pprof/profile": pprof.Profile,
		"/debug/pprof/symbol":  pprof.Symbol,
		"/debug/pprof/trace":   pprof.Trace,
	}
	for path, h := range named {
		e.Any(path, echo.WrapHandler(h))
	}
	// Index serves the list at /debug/pprof/ and every runtime profile
	// (heap, goroutine, allocs, ...) by the name after the prefix.
	e.GET("/debug/pprof/*", echo.WrapHandler(http.HandlerFunc(pprof.Index)))
}
