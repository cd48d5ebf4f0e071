// Command outpost is an independent status page and synthetic monitor.
//
// Usage:
//
//	outpost serve       -config FILE     run the monitor and the status page
//	outpost check       -config FILE     validate a config file
//	outpost probe       -config FILE [-check NAME] [-json]
//	outpost backup      -config FILE -out FILE.db
//	outpost verify      -config FILE     check every page of the data file
//	outpost export      -config FILE -out DIR
//	outpost notify test -config FILE -channel NAME | -email ADDR
//	outpost healthcheck -config FILE     exit 0 when /healthz answers 200
//	outpost cluster certs -out DIR -nodes a,b,c [-days N] [-force]
//	outpost version
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // the image has no zoneinfo; site.time_zone must still work
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

// Exit codes shared by the subcommands.
const (
	exitOK     = 0
	exitFailed = 1 // a check is down, a health check failed, a run failed
	exitConfig = 2 // bad configuration or usage
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "run the monitor and the status page", runServe},
		{"check", "validate a config file", runCheck},
		{"probe", "run every (or one) check once and print the results", runProbe},
		{"backup", "write a consistent copy of the data file", runBackup},
		{"verify", "check every page of the data file (works while running)", runVerify},
		{"export", "write the public site as static files", runExport},
		{"notify", "notify test -channel NAME | -email ADDR: send a test message", runNotify},
		{"heartbeat", "heartbeat token -check NAME: a push check's token", runHeartbeat},
		{"incident", "create|update|resolve|list incidents on a running Outpost", runIncident},
		{"maintenance", "add|list|cancel maintenance on a running Outpost", runMaintenance},
		{"subscriptions", "list|log|pause|enable|delete webhook subscriptions on a running Outpost", runSubscriptions},
		{"healthcheck", "exit 0 when a running Outpost answers /healthz", runHealthcheck},
		{"cluster", "cluster certs -out DIR -nodes a,b,c: make the nodes' certificates", runCluster},
		{"version", "print the version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal starts a clean shutdown; a second one exits at
		// once. Every commit is a complete bbolt transaction, so the file
		// stays consistent either way.
		<-ctx.Done()
		stop()
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		<-again
		fmt.Fprintln(os.Stderr, "outpost: second signal, exiting now")
		os.Exit(exitFailed)
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		usage(stderr)
		return exitConfig
	case isHelp(args[0]):
		usage(stdout) // asked for: it is the answer, not an error
		return exitOK
	case args[0] == "--version" || args[0] == "-version" || args[0] == "-v":
		return runVersion(ctx, nil, stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "outpost: unknown command %q", args[0])
	if near := nearest(args[0]); near != "" {
		fmt.Fprintf(stderr, "; did you mean %q?", near)
	}
	fmt.Fprintln(stderr, "\nRun 'outpost help' for the commands.")
	return exitConfig
}

// isHelp reports an argument that asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

// nearest is the command within two edits of name (a typo), or "".
func nearest(name string) string {
	best, bestD := "", 3
	for _, c := range commands() {
		if d := editDistance(name, c.name); d < bestD {
			best, bestD = c.name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Outpost: an independent status page and synthetic monitor.\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'outpost COMMAND -h' for a command's flags.")
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) int {
	fmt.Fprintln(stdout, "outpost", version)
	return exitOK
}
