package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/config"
)

// newFlags makes a subcommand's flag set; Go's flag package accepts both
// -config and --config.
func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("outpost "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := fs.String("config", "config.yaml", "path to the config file")
	return fs, cfg
}

// parseFlags returns false (after printing why) when args are bad.
func parseFlags(fs *flag.FlagSet, args []string) bool {
	if err := fs.Parse(args); err != nil {
		return false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return false
	}
	return true
}

// loadConfig loads path and prints every problem on failure.
func loadConfig(path string, stderr io.Writer) (*config.Config, bool) {
	return loadConfigWith(path, stderr, probes.Options{Version: version})
}

// loadConfigWith is loadConfig with the serving process's probe options
// (the heartbeat registry).
func loadConfigWith(path string, stderr io.Writer, po probes.Options) (*config.Config, bool) {
	cfg, err := config.Load(path, config.LoadOptions{Probe: po})
	if err != nil {
		var es config.Errors
		if errors.As(err, &es) {
			fmt.Fprintf(stderr, "%s: %d problem(s):\n%v\n", path, len(es), es)
		} else {
			fmt.Fprintln(stderr, err)
		}
		return nil, false
	}
	return cfg, true
}

func runCheck(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs, path := newFlags("check", stderr)
	if !parseFlags(fs, args) {
		return exitConfig
	}
	cfg, ok := loadConfig(*path, stderr)
	if !ok {
		return exitConfig
	}
	fmt.Fprintf(stdout, "%s: OK (%d components, %d checks, %d maintenance windows)\n",
		*path, len(cfg.Components), len(cfg.Checks), len(cfg.Maintenance))
	return exitOK
}
