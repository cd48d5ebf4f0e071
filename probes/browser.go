package probes

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"
)

// Browser is the Chromium that browser checks drive: a local executable
// started on the first run, or a remote one by its DevTools ws:// URL, so
// the Outpost binary stays static. It is shared by the browser checks of
// one config and closed when their scheduler stops. Its own small limit
// keeps a burst of journeys from starving the other probes.
type Browser struct {
	execPath, wsURL string
	slots           chan struct{}

	mu     sync.Mutex
	root   context.Context // the browser's first tab, which starts it
	cancel context.CancelFunc
	closed bool
}

// NewBrowser describes a browser; nothing starts until a check runs.
func NewBrowser(execPath, wsURL string, concurrency int) *Browser {
	return &Browser{execPath: execPath, wsURL: wsURL, slots: make(chan struct{}, max(concurrency, 1))}
}

// tab opens a new tab in a browser context of its own (no cookies or
// storage from another run: a login journey really logs in), starting
// the browser (or connecting to it) first.
func (b *Browser) tab() (context.Context, context.CancelFunc, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, nil, errors.New("the browser was closed")
	}
	if b.root == nil {
		var alloc context.Context
		var cancelAlloc context.CancelFunc
		if b.wsURL != "" {
			alloc, cancelAlloc = remote.NewAllocator(context.Background(), b.wsURL)
		} else {
			opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(b.execPath), chromedp.NoSandbox, chromedp.DisableGPU,
				chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true),
				chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
				// Chromium streams a script to its compiler without telling
				// DevTools of the bytes (no Network.dataReceived), which would
				// hide an endless script from the page's weight.
				chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,ScriptStreaming"))
			alloc, cancelAlloc = chromedp.NewExecAllocator(context.Background(), opts...)
		}
		root, cancelRoot := chromedp.NewContext(alloc)
		if err := chromedp.Do(root); err != nil { // starts the browser
			cancelRoot()
			cancelAlloc()
			return nil, nil, fmt.Errorf("start the browser: %w", err)
		}
		b.root, b.cancel = root, func() { cancelRoot(); cancelAlloc() }
	}
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
	return ctx, cancel, nil
}

// Close stops a browser it started (or drops the remote connection).
func (b *Browser) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed && b.cancel != nil {
		b.cancel()
	}
	b.closed = true
	return nil
}

// BrowserCheck runs a journey in a real browser: steps of goto, click,
// fill, wait_for and expect_text, each with its own timeout.
type BrowserCheck struct {
	b            *Browser
	steps        []Step
	failConsole  bool
	failRequests bool
	max          time.Duration
	maxBytes     int64 // the page weight of one run, all requests together
}

func newBrowserCheck(s Spec, o Options) (Probe, error) {
	if o.Browser == nil {
		return nil, fieldErr("kind", "a browser check needs a browser: set browser.exec_path (a Chromium on this machine) or browser.ws_url (a remote one's DevTools URL)")
	}
	if len(s.Steps) == 0 || len(s.Steps) > 30 {
		return nil, fieldErr("steps", "1 to 30 steps, got %d", len(s.Steps))
	}
	for i, st := range s.Steps {
		p := fmt.Sprintf("steps[%d]", i)
		n := 0
		for _, set := range []bool{st.Goto != "", st.Click != "", st.Fill != nil, st.WaitFor != "", st.ExpectText != ""} {
			if set {
				n++
			}
		}
		switch {
		case n != 1:
			return nil, fieldErr(p, "set exactly one of goto, click, fill, wait_for or expect_text")
		case st.Goto != "" && !strings.HasPrefix(st.Goto, "http://") && !strings.HasPrefix(st.Goto, "https://"):
			return nil, fieldErr(p+".goto", "must be an http:// or https:// URL, got %q", st.Goto)
		case st.Fill != nil && st.Fill.Selector == "":
			return nil, fieldErr(p+".fill.selector", "is required")
		case st.Timeout < 0:
			return nil, fieldErr(p+".timeout", "must not be negative")
		}
	}
	if s.Steps[0].Goto == "" {
		return nil, fieldErr("steps[0]", "the first step must be a goto")
	}
	return &BrowserCheck{b: o.Browser, steps: s.Steps, failConsole: s.FailOnConsoleErrors, failRequests: s.FailOnRequestErrors,
		max: s.expect().MaxLatency, maxBytes: s.bodyLimit(defaultMaxPageBytes)}, nil
}

// Close closes the shared browser: the scheduler stops its checks together.
func (p *BrowserCheck) Close() error { return p.b.Close() }

// Run takes a browser slot, opens a tab and walks the steps. It answers
// by the check's deadline whatever the page does: closing the tab can take
// chromedp seconds (detach, close, wait for it to go, dispose of its browser
// context), so that happens after the answer, and the tab keeps its slot
// until it is gone, so runs that time out cannot pile tabs up in Chromium.
func (p *BrowserCheck) Run(ctx context.Context) Result {
	start := time.Now()
	select {
	case p.b.slots <- struct{}{}:
	case <-ctx.Done():
		return down(ReasonTimeout, elapsed(start), "no browser slot before the deadline")
	}
	tab, closeTab, err := p.b.tab()
	if err != nil {
		<-p.b.slots
		return down(ReasonInternal, elapsed(start), "%v", err)
	}
	defer func() { go func() { closeTab(); <-p.b.slots }() }()
	run, cancel := context.WithCancelCause(tab)
	defer cancel(nil)
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) }) // the check's deadline ends the run
	defer stop()
	weight := &pageWeight{limit: p.maxBytes, cancel: cancel}
	br := &browserRun{ctx: ctx, tab: tab, run: run, start: start, timings: map[string]any{}, weight: weight}
	if err := openTab(run, tab, func(e any) { br.events.observe(e, weight) }); err != nil {
		return br.failed("open a tab", down(ReasonInternal, 0, "%v", err))
	}
	if err := quietTab(run, p.failConsole); err != nil {
		return br.failed("open a tab", down(ReasonInternal, 0, "%v", err))
	}
	for i, st := range p.steps {
		name := st.Name
		if name == "" {
			name = fmt.Sprintf("step %d", i+1)
		}
		sctx, cancelStep := run, context.CancelFunc(func() {})
		if st.Timeout > 0 {
			sctx, cancelStep = context.WithTimeout(run, st.Timeout)
		}
		began := time.Now()
		r, ok := p.step(sctx, st)
		stepTimedOut := errors.Is(sctx.Err(), context.DeadlineExceeded)
		cancelStep()
		br.timings[name+"_ms"] = ms(time.Since(began))
		if !ok {
			if stepTimedOut {
				r = down(ReasonTimeout, 0, "%s", r.Message)
			}
			return br.failed(name, r)
		}
		if i == 0 {
			navigationTimings(run, br.timings)
		}
	}
	if context.Cause(run) != nil { // the page went on downloading after the last step
		return br.failed("after the last step", down(ReasonInternal, 0, "%v", context.Cause(run)))
	}
	r := p.judgeEvents(&br.events, elapsed(start), br.timings)
	r.detail("page_bytes", weight.bytes())
	return r
}

// openTab creates the tab's target and listens to it. chromedp ties the
// target's event loop to the context that creates it, so that is the tab
// (a screenshot after the run was cut still gets its answer), while the
// wait is bounded by the run.
func openTab(run, tab context.Context, listen func(any)) error {
	opened := make(chan error, 1) // the goroutine ends with the tab, which Run closes
	go func() { opened <- chromedp.Listen(tab, listen) }()
	select {
	case err := <-opened:
		return err
	case <-run.Done():
		return context.Cause(run)
	}
}

// browserRun is one run's state: the check's context, the tab, the run
// (the tab until the deadline or the page's weight ends it), what the
// page reported and what its requests weighed.
type browserRun struct {
	ctx, tab, run context.Context
	start         time.Time
	timings       map[string]any
	events        pageEvents
	weight        *pageWeight
}

// failed reports a failed step with its true reason: the page's weight
// (body_too_large) or the check's deadline (timeout) when either ended the
// run, whatever error the step saw. A screenshot is kept if the deadline
// leaves time for it.
func (br *browserRun) failed(name string, r Result) Result {
	switch cause := context.Cause(br.run); {
	case errors.Is(cause, errPageTooHeavy):
		r = down(ReasonBodyTooLarge, 0, "%v (max_body_bytes)", cause)
	case br.ctx.Err() != nil:
		r = down(ReasonTimeout, 0, "%s", r.Message)
	}
	r.Latency, r.Message = elapsed(br.start), name+": "+r.Message
	r.detail("failed_step", name)
	if len(br.timings) > 0 {
		r.detail("step_ms", br.timings)
	}
	r.Screenshot = screenshot(br.ctx, br.tab)
	// After the screenshot: what the page still sent until its network
	// went off came into Outpost during this run too.
	r.detail("page_bytes", br.weight.bytes())
	return r
}

// navigationTimings adds the first page's load times (a few numbers).
func navigationTimings(run context.Context, timings map[string]any) {
	nav, err := chromedp.Run(run, chromedp.Evaluate[map[string]float64](`(() => { const n = performance.getEntriesByType("navigation")[0];
		return n ? {dom_content_loaded_ms: n.domContentLoadedEventEnd, load_ms: n.loadEventEnd} : {}; })()`))
	if err == nil {
		for k, v := range nav {
			timings[k] = v
		}
	}
}

// pageEvents keeps what the tab reports that a run may fail on: counts,
// and the first few messages cut short, however many the page makes.
type pageEvents struct {
	mu                sync.Mutex
	consoleN, failedN int
	console, failed   []string
}

func (e *pageEvents) observe(ev any, w *pageWeight) {
	if w.observe(ev) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		e.consoleN, e.console = e.consoleN+1, keepFew(e.console, ev.ExceptionDetails.Text)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			e.consoleN, e.console = e.consoleN+1, keepFew(e.console, "console.error")
		}
	case *network.EventLoadingFailed:
		if !ev.Canceled {
			e.failedN, e.failed = e.failedN+1, keepFew(e.failed, ev.ErrorText)
		}
	}
}

// keepFew keeps the first 3 messages, each cut to 120 bytes.
func keepFew(list []string, s string) []string {
	if len(list) >= 3 {
		return list
	}
	return append(list, truncate([]byte(s), 120))
}

func (p *BrowserCheck) judgeEvents(ev *pageEvents, lat time.Duration, timings map[string]any) Result {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	switch {
	case p.failConsole && ev.consoleN > 0:
		return down(ReasonBodyMismatch, lat, "the page reported %d error(s): %s", ev.consoleN, truncate([]byte(strings.Join(ev.console, "; ")), 120))
	case p.failRequests && ev.failedN > 0:
		return down(ReasonConnectionError, lat, "%d request(s) failed: %s", ev.failedN, truncate([]byte(strings.Join(ev.failed, "; ")), 120))
	}
	r := slowCheck(up(lat), p.max)
	r.detail("step_ms", timings)
	return r
}

// maxScreenshot bounds what a failed run keeps of the page.
const maxScreenshot = 2 << 20

// screenshot captures the tab as it is, if the check's deadline leaves
// time (at most a second), after stopping whatever the page still loads.
// The tab's network events go off first: the run is decided, and a page
// that goes on requesting (StopLoading does not stop a script's fetches)
// would go on bringing its URLs into Outpost while the screenshot is
// taken (1 MiB URLs in a loop: 1 to 3 more of them after the weight had
// ended the run, each about 8 MB of allocation under the race detector).
func screenshot(ctx, tab context.Context) []byte {
	if ctx.Err() != nil || tab.Err() != nil {
		return nil
	}
	sctx, cancel := context.WithTimeout(tab, time.Second)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	_ = chromedp.Do(sctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, c := range []cdp.Command[cdp.Empty, cdp.Empty]{network.Disable, page.StopLoading} {
			if _, err := cdp.Call(ctx, t, c, cdp.Empty{}); err != nil {
				return fmt.Errorf("%s: %w", c.Method, err)
			}
		}
		return nil
	}))
	png, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
	if err != nil || len(png) > maxScreenshot {
		return nil
	}
	return png
}

// step runs one step; ok false with the reason when it fails. Only goto
// uses chromedp's own navigation; the others ask the page with JavaScript
// (see quietTab).
func (p *BrowserCheck) step(ctx context.Context, st Step) (Result, bool) {
	var err error
	switch {
	case st.Goto != "":
		var resp *network.Response
		resp, err = chromedp.RunResponse(ctx, chromedp.Navigate(st.Goto))
		if err == nil && resp != nil && resp.Status >= 400 {
			return down(ReasonStatusMismatch, 0, "goto %s: status %d", st.Goto, resp.Status), false
		}
		if err != nil {
			if strings.Contains(err.Error(), "ERR_CONNECTION_REFUSED") {
				return down(ReasonConnectionRefused, 0, "goto %s: %v", st.Goto, err), false
			}
			return down(ReasonConnectionError, 0, "goto %s: %v", st.Goto, err), false
		}
	case st.Click != "":
		var at *point
		if at, err = find(ctx, st.Click, true); err == nil {
			err = chromedp.Do(ctx, chromedp.MouseClickXY(at.X, at.Y))
		}
	case st.Fill != nil:
		if err = focus(ctx, st.Fill.Selector); err == nil {
			err = chromedp.Do(ctx, chromedp.KeyEvent(st.Fill.Value))
		}
	case st.WaitFor != "":
		_, err = find(ctx, st.WaitFor, true)
	case st.ExpectText != "":
		var shown bool
		if shown, err = showsText(ctx, st.ExpectText); err == nil && !shown {
			return down(ReasonBodyMismatch, 0, "the page does not show %q", st.ExpectText), false
		}
	}
	switch {
	case errors.Is(err, errNoElement):
		return down(ReasonTimeout, 0, "%v", err), false
	case err != nil:
		return down(ReasonConnectionError, 0, "%v", err), false
	}
	return Result{}, true
}
