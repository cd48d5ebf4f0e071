package web

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/capability"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
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

// axeViolation is what the test reads of one axe-core violation.
type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
}

// axeScript reads axe-core from the npm clients; without them the test
// skips, except under CI.
func axeScript(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "clients", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("axe-core missing in CI: .ci/run must run npm ci in status/web/testdata/clients")
		}
		t.Skip("no axe-core (cd status/web/testdata/clients && npm ci)")
	}
	return string(b)
}

// axeRun injects axe-core into the loaded page (by the DevTools protocol,
// so the page's CSP is not loosened for it) and returns its violations
// against WCAG 2.x A and AA and axe's best practices.
func axeRun(t *testing.T, ctx context.Context, axe string) []axeViolation {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axe+"\n;true")); err != nil {
		t.Fatalf("inject axe-core: %v", err)
	}
	const runAxe = `axe.run(document, {resultTypes: ["violations"],
	  runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}})
	  .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
	    targets: v.nodes.map(n => n.target.join(" "))})))`
	return run(t, ctx, chromedp.Evaluate[[]axeViolation](runAxe, chromedp.EvalAwaitPromise))
}

// maintenanceServer serves a site whose one window is in progress at t0,
// so the page shows maintenance and the window has a page of its own.
func maintenanceServer(t *testing.T) (*Server, string) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "maint.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := &status.Model{AutoIncidents: true,
		Components: []status.ComponentDef{{ID: "api", Name: "API"}, {ID: "db", Name: "Database"}},
		Maintenance: []status.MaintenanceDef{{ID: "db-upgrade", Name: "Database upgrade", Components: []string{"db"},
			Message: "Writes pause; reads continue.", Start: t0.Add(-time.Hour), End: t0.Add(time.Hour)}},
		Checks: []status.CheckDef{{Name: "api-1", Component: "api", FailureThreshold: 1, SuccessThreshold: 1, Every: 30 * time.Second}}}
	e := status.NewEngine(m, nil)
	ch := e.Apply(status.Batch{Now: t0, Results: []status.CheckResult{{Check: "api-1", At: t0,
		Result: probes.Result{Outcome: probes.Up, Reason: probes.ReasonOK, Latency: 42 * time.Millisecond}}}})
	if _, err := st.Apply(store.Entry{At: t0, Step: store.NewStep(ch, e.State(), nil)}); err != nil {
		t.Fatal(err)
	}
	snap := e.Snapshot(t0, t0)
	s, err := New(Options{Site: config.Site{Title: "Acme Status", TimeZone: "UTC", Location: time.UTC}, Store: st,
		Health: func() (bool, string) { return true, "" }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Maintenance) != 1 {
		t.Fatalf("fixture: want one maintenance in progress, have %d", len(snap.Maintenance))
	}
	return s, snap.Maintenance[0].ID
}

// TestAccessibility runs axe-core on the page, the history, an incident
// and a maintenance, in light and dark: no violation, contrast included.
func TestAccessibility(t *testing.T) {
	axe := axeScript(t)
	ctx := browser(t)
	s, snap := testServer(t)
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	ms, maintID := maintenanceServer(t)
	mts := httptest.NewServer(ms.Handler())
	defer mts.Close()
	cts := httptest.NewServer(clusterServer(t).Handler()) // per-location rows, regional trouble
	defer cts.Close()
	// The form posts from the page's own origin, which must be site.url's
	// (formPost refuses any other Origin): the server learns its address
	// before it is built.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ss := subscribeServerAt(t, &fakeSubscriber{}, "http://"+ln.Addr().String())
	mf := &manageFixture{s: ss, st: ss.o.Store, key: seedSiteKey(t, ss.o.Store, time.Now().Add(-time.Hour))}
	mf.confirmed(t, "em_axe")
	sts := httptest.NewUnstartedServer(ss.Handler())
	sts.Listener.Close()
	sts.Listener = ln
	sts.Start()
	defer sts.Close()
	pages := []struct{ name, url, ready string }{
		{"subscribe", sts.URL + "/subscribe", "form.subscribe"},
		{"subscribe without email", mts.URL + "/subscribe", "ul.follow"},
		{"manage", sts.URL + mf.link(t, "em_axe", capability.Manage, time.Time{}), "#privacy"},
		{"index", ts.URL + "/", ".banner"},
		{"history", ts.URL + "/history", "main h2"},
		{"incident", ts.URL + "/incidents/" + snap.Incidents[0].ID, "ol.timeline"},
		{"maintenance index", mts.URL + "/", ".banner"},
		{"maintenance", mts.URL + "/incidents/" + maintID, "ol.timeline"},
		{"cluster index", cts.URL + "/", ".banner"},
	}
	do(t, ctx, chromedp.EmulateViewport(1280, 900))
	for _, theme := range []string{"light", "dark"} {
		scheme(t, ctx, theme)
		for _, p := range pages {
			t.Run(theme+"/"+p.name, func(t *testing.T) {
				do(t, ctx, chromedp.Navigate(p.url), chromedp.WaitVisible(chromedp.CSS(p.ready)))
				// The dark runs must really be dark: contrast is checked per scheme.
				if dark := run(t, ctx, chromedp.Evaluate[bool](`matchMedia("(prefers-color-scheme: dark)").matches`)); dark != (theme == "dark") {
					t.Fatalf("prefers-color-scheme: dark is %v in the %s run", dark, theme)
				}
				for _, v := range axeRun(t, ctx, axe) {
					t.Errorf("%s (%s): %s at %s", v.ID, v.Impact, v.Help, strings.Join(v.Targets, ", "))
				}
			})
		}
		// The form refused, as a person sees it after posting it.
		t.Run(theme+"/subscribe refused", func(t *testing.T) {
			do(t, ctx, chromedp.Navigate(sts.URL+"/subscribe"), chromedp.WaitVisible(chromedp.CSS("form.subscribe")),
				chromedp.SendKeys(chromedp.CSS("#f-email"), "reader@localhost"), chromedp.Click(chromedp.CSS("form.subscribe button")),
				chromedp.WaitVisible(chromedp.CSS(".form-errors")))
			for _, v := range axeRun(t, ctx, axe) {
				t.Errorf("%s (%s): %s at %s", v.ID, v.Impact, v.Help, strings.Join(v.Targets, ", "))
			}
		})
	}
}

// TestPageRefresh: the page reloads itself every Refresh seconds while
// untouched and visible, never once the visitor has done something on it,
// not while its tab is hidden (at once when shown again, being overdue),
// and without JavaScript it stays put and says when it was generated.
func TestPageRefresh(t *testing.T) {
	ctx := browser(t)
	snap, st := fixture(t)
	const every = 2 * time.Second
	s, err := New(Options{Site: config.Site{Title: "Acme Status", TimeZone: "UTC", Location: time.UTC}, Store: st,
		Refresh: int(every / time.Second), Health: func() (bool, string) { return true, "" }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	// Loads are counted in the browser: a reload may be answered from its
	// cache (the page carries an ETag) and never reach the server.
	var loads atomic.Int32
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*cdppage.EventFrameNavigated); ok && e.Frame.ParentID == "" {
			loads.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	// waitLoads waits up to d for the page to have been loaded want times.
	waitLoads := func(want int32, d time.Duration) bool {
		for deadline := time.Now().Add(d); time.Now().Before(deadline); {
			if loads.Load() >= want {
				return true
			}
			time.Sleep(50 * time.Millisecond)
		}
		return loads.Load() >= want
	}
	open := func() {
		t.Helper()
		loads.Store(0)
		do(t, ctx, chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS(".banner")))
	}
	// A reload that does not come is shown by waiting three periods: the
	// untouched case shows one comes within one.
	quiet := 3 * every

	open()
	if !waitLoads(2, quiet) {
		t.Errorf("untouched and visible: not reloaded within %v", quiet)
	}

	open()
	do(t, ctx, chromedp.KeyEvent("j"))
	if waitLoads(2, quiet) {
		t.Errorf("reloaded after the visitor pressed a key")
	}

	// The tab reads as hidden until the test shows it (a test-side override
	// of the browser's state, in every document this tab loads).
	hide, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{
		Source: `Object.defineProperty(document, "visibilityState", {configurable: true, get: () => window.shown ? "visible" : "hidden"})`})
	if err != nil {
		t.Fatal(err)
	}
	open()
	if waitLoads(2, quiet) {
		t.Errorf("reloaded while the tab was hidden")
	}
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.shown = true; document.dispatchEvent(new Event("visibilitychange"))`))
	if !waitLoads(2, every) {
		t.Errorf("hidden past its reload, then shown: not reloaded")
	}
	if _, err := chromedp.Call(ctx, cdppage.RemoveScriptToEvaluateOnNewDocument, cdppage.RemoveScriptToEvaluateOnNewDocumentParams(hide)); err != nil {
		t.Fatal(err)
	}

	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	open()
	footer := run(t, ctx, chromedp.Text(chromedp.CSS("footer")))
	fresh := run(t, ctx, chromedp.Text(chromedp.CSS(".freshness")))
	if !strings.Contains(footer, "Page generated 14:02 UTC") || !strings.Contains(fresh, "Last checked 14:02:00 UTC") {
		t.Errorf("without JavaScript the page does not say when it was generated: %q, %q", footer, fresh)
	}
	if waitLoads(2, quiet) {
		t.Errorf("reloaded without JavaScript")
	}
}
