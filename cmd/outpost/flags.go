package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/config"
)

// newFlags makes a subcommand's flag set; Go's flag package accepts both
// -config and --config.
func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("outpost "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := fs.String("config", "config.yaml", "path to the config file")
	// In the environment, not only in this load: a reload reads the file
	// again, and ${OUTPOST_NODE} must mean the same node then.
	fs.Func("node", "this node's id in cluster.nodes (sets "+config.NodeEnv+")", func(id string) error {
		return os.Setenv(config.NodeEnv, id)
	})
	return fs, cfg
}

// parseFlags parses a subcommand's flags. When it cannot go on it says
// why (or prints the flags, for -h) and returns the exit code: 0 for -h,
// exitConfig for bad flags.
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return exitOK, false
	} else if err != nil {
		return exitConfig, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitConfig, false
	}
	return exitOK, true
}

// loadConfig loads path and prints every problem on failure. Every
// ${VAR} must be set: for serve, check and notify.
func loadConfig(path string, stderr io.Writer) (*config.Config, bool) {
	return loadConfigWith(path, stderr, config.LoadOptions{Probe: probes.Options{Version: version}})
}

// loadConfigFor loads path for a command that uses only some of it: an
// unset ${VAR} in a field tolerate accepts is no error.
func loadConfigFor(path string, stderr io.Writer, tolerate func(field string) bool) (*config.Config, bool) {
	return loadConfigWith(path, stderr, config.LoadOptions{Probe: probes.Options{Version: version}, Tolerate: tolerate})
}

// anyField tolerates every unset secret: for commands that read only the
// data file's path and the site (backup, export, verify, heartbeat token).
func anyField(string) bool { return true }

// notChecks tolerates unset secrets outside checks and canaries: probe
// needs its checks' secrets, not the channels' or the admin tokens.
func notChecks(field string) bool {
	return !strings.HasPrefix(field, "checks") && !strings.HasPrefix(field, "canaries")
}

// loadConfigWith loads path with o and prints every problem on failure.
func loadConfigWith(path string, stderr io.Writer, o config.LoadOptions) (*config.Config, bool) {
	cfg, err := config.Load(path, o)
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
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, ok := loadConfig(*path, stderr)
	if !ok || (cfg.Cluster != nil && !checkCluster(cfg, stdout, stderr)) {
		return exitConfig
	}
	fmt.Fprintf(stdout, "%s: OK (%d components, %d checks, %d maintenance windows)\n",
		*path, len(cfg.Components), len(cfg.Checks), len(cfg.Maintenance))
	return exitOK
}
