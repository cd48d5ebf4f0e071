package web

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browser starts Debian's headless Chromium. Without one the test skips,
// except in CI, where .ci/run installs it and a skip would hide a gap.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium missing in CI: .ci/run must install it")
		}
		t.Skip("no chromium (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	return ctx
}

// problems collects console errors, exceptions (CSP violations included)
// and failed or erroring requests.
type problems struct {
	mu   sync.Mutex
	list []string
}

func (p *problems) add(format string, args ...any) {
	p.mu.Lock()
	p.list = append(p.list, fmt.Sprintf(format, args...))
	p.mu.Unlock()
}

func (p *problems) watch(ctx context.Context) error {
	return chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				p.add("console %s: %v", e.Type, e.Args)
			}
		case *runtime.EventExceptionThrown:
			p.add("exception: %s", e.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
				p.add("log %s (%s): %s %s", e.Entry.Level, e.Entry.Source, e.Entry.Text, e.Entry.URL)
			}
		case *network.EventLoadingFailed:
			p.add("request failed: %s %s", e.ErrorText, e.BlockedReason)
		case *network.EventResponseReceived:
			if e.Response.Status >= 400 {
				p.add("HTTP %d for %s", e.Response.Status, e.Response.URL)
			}
		}
	})
}

// run evaluates one typed action, failing the test on error.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func scheme(t *testing.T, ctx context.Context, s string) {
	t.Helper()
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia,
		emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: s}}}); err != nil {
		t.Fatal(err)
	}
}

func TestRealBrowser(t *testing.T) {
	ctx := browser(t)
	s, snap := testServer(t)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	p := &problems{}
	if err := p.watch(ctx); err != nil {
		t.Fatal(err)
	}
	for _, enable := range []func() error{
		func() error { _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); return err },
		func() error { _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); return err },
		func() error { _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); return err },
	} {
		if err := enable(); err != nil {
			t.Fatal(err)
		}
	}
	artifacts := filepath.Join("testdata", "artifacts")
	_ = os.MkdirAll(artifacts, 0o755)

	do(t, ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS(".banner")))
	banner := run(t, ctx, chromedp.Text(chromedp.CSS(".banner")))
	components := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll(".component").length`))
	// Day cells are the dashes of runs: a run of n days is 4n-1 long.
	cells := run(t, ctx, chromedp.Evaluate[int](`[...document.querySelectorAll("svg.bars path")].reduce((n, p) => n + Math.round((p.getTotalLength() + 1) / 4), 0)`))
	dashes := run(t, ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("svg.bars path")).strokeDasharray`))
	barsWidth := run(t, ctx, chromedp.Evaluate[float64](`document.querySelector("svg.bars").getBoundingClientRect().width`))
	_ = os.WriteFile(filepath.Join(artifacts, "index-1280.png"), run(t, ctx, chromedp.FullScreenshot(100)), 0o644)
	if banner != "Major Service Outage" || components != 3 || cells != 270 || dashes != "3px, 1px" || barsWidth < 200 {
		t.Errorf("banner %q, %d components, %d bar cells drawn with dashes %q, bars %.0f px wide", banner, components, cells, dashes, barsWidth)
	}

	// Phone width: nothing scrolls sideways.
	do(t, ctx, chromedp.EmulateViewport(375, 800), chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS(".banner")))
	scrollW := run(t, ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	innerW := run(t, ctx, chromedp.Evaluate[int](`window.innerWidth`))
	_ = os.WriteFile(filepath.Join(artifacts, "index-375.png"), run(t, ctx, chromedp.FullScreenshot(100)), 0o644)
	if scrollW > innerW || innerW != 375 {
		t.Errorf("at %d px the page is %d px wide: it scrolls sideways", innerW, scrollW)
	}

	// Dark mode really changes the computed colours.
	colours := func(s string) (bg, fg string) {
		scheme(t, ctx, s)
		do(t, ctx, chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS(".banner")))
		return run(t, ctx, chromedp.Evaluate[string](`getComputedStyle(document.documentElement).backgroundColor`)),
			run(t, ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).color`))
	}
	lightBG, lightFG := colours("light")
	darkBG, darkFG := colours("dark")
	if lightBG == darkBG || lightFG == darkFG {
		t.Errorf("dark mode changes nothing: light %s/%s, dark %s/%s", lightBG, lightFG, darkBG, darkFG)
	}
	do(t, ctx, chromedp.EmulateViewport(1280, 900))
	_ = os.WriteFile(filepath.Join(artifacts, "index-1280-dark.png"), run(t, ctx, chromedp.FullScreenshot(100)), 0o644)

	// An incident page.
	scheme(t, ctx, "light")
	do(t, ctx, chromedp.Navigate(ts.URL+"/incidents/"+snap.Incidents[0].ID), chromedp.WaitVisible(chromedp.CSS("ol.timeline")))
	if title := run(t, ctx, chromedp.Text(chromedp.CSS("article h2"))); title != snap.Incidents[0].Name {
		t.Errorf("incident page title %q", title)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.list) > 0 {
		t.Errorf("the browser reported problems:\n%s", strings.Join(p.list, "\n"))
	}
	t.Logf("light %s/%s, dark %s/%s; screenshots in %s", lightBG, lightFG, darkBG, darkFG, artifacts)
}
