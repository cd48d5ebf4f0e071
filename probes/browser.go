package probes

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/network"
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
				chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))
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
		max: s.Expect.MaxLatency}, nil
}

// Close closes the shared browser: the scheduler stops its checks together.
func (p *BrowserCheck) Close() error { return p.b.Close() }

// Run takes a browser slot, opens a tab and walks the steps.
func (p *BrowserCheck) Run(ctx context.Context) Result {
	start := time.Now()
	select {
	case p.b.slots <- struct{}{}:
		defer func() { <-p.b.slots }()
	case <-ctx.Done():
		return down(ReasonTimeout, elapsed(start), "no browser slot before the deadline")
	}
	tab, closeTab, err := p.b.tab()
	if err != nil {
		return down(ReasonInternal, elapsed(start), "%v", err)
	}
	defer closeTab()
	stop := context.AfterFunc(ctx, closeTab) // the check's deadline ends the tab
	defer stop()
	var mu sync.Mutex
	var console, failed []string
	_ = chromedp.Listen(tab, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			console = append(console, e.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				console = append(console, "console.error")
			}
		case *network.EventLoadingFailed:
			if !e.Canceled {
				failed = append(failed, e.ErrorText)
			}
		}
	})
	timings := map[string]any{}
	for i, st := range p.steps {
		name := st.Name
		if name == "" {
			name = fmt.Sprintf("step %d", i+1)
		}
		sctx, cancel := tab, context.CancelFunc(func() {})
		if st.Timeout > 0 {
			sctx, cancel = context.WithTimeout(tab, st.Timeout)
		}
		began := time.Now()
		r, ok := p.step(sctx, st)
		cancel()
		timings[name+"_ms"] = ms(time.Since(began))
		if !ok {
			if ctx.Err() != nil || errors.Is(sctx.Err(), context.DeadlineExceeded) {
				r = down(ReasonTimeout, 0, "%s", r.Message)
			}
			r.Latency, r.Message = elapsed(start), name+": "+r.Message
			r.detail("failed_step", name)
			r.detail("step_ms", timings)
			r.Screenshot = screenshot(tab)
			return r
		}
		if i == 0 {
			nav, err := chromedp.Run(tab, chromedp.Evaluate[map[string]float64](`(() => { const n = performance.getEntriesByType("navigation")[0];
				return n ? {dom_content_loaded_ms: n.domContentLoadedEventEnd, load_ms: n.loadEventEnd} : {}; })()`))
			if err == nil {
				for k, v := range nav {
					timings[k] = v
				}
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	lat := elapsed(start)
	switch {
	case p.failConsole && len(console) > 0:
		return down(ReasonBodyMismatch, lat, "the page reported %d error(s): %s", len(console), truncate([]byte(strings.Join(console, "; ")), 120))
	case p.failRequests && len(failed) > 0:
		return down(ReasonConnectionError, lat, "%d request(s) failed: %s", len(failed), truncate([]byte(strings.Join(failed, "; ")), 120))
	}
	r := slowCheck(up(lat), p.max)
	r.detail("step_ms", timings)
	return r
}

// maxScreenshot bounds what a failed run keeps of the page.
const maxScreenshot = 2 << 20

// screenshot captures the tab as it is, if it still can (within a second,
// and small enough to keep).
func screenshot(tab context.Context) []byte {
	if tab.Err() != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(tab, time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil || len(png) > maxScreenshot {
		return nil
	}
	return png
}

// step runs one step; ok false with the reason when it fails.
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
		err = chromedp.Do(ctx, chromedp.Click(chromedp.CSS(st.Click)))
	case st.Fill != nil:
		err = chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(st.Fill.Selector), st.Fill.Value))
	case st.WaitFor != "":
		err = chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(st.WaitFor)))
	case st.ExpectText != "":
		var body string
		if body, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body"))); err == nil && !strings.Contains(body, st.ExpectText) {
			return down(ReasonBodyMismatch, 0, "the page does not show %q", st.ExpectText), false
		}
	}
	if err != nil {
		return down(ReasonConnectionError, 0, "%v", err), false
	}
	return Result{}, true
}
