package probes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/chromedp/cdproto"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/css"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// defaultMaxPageBytes is a browser run's page weight when max_body_bytes is
// not set: every request of the journey together, decoded. A real web app
// weighs a few MiB; what Outpost itself holds does not grow with it.
const defaultMaxPageBytes = 32 << 20

// errPageTooHeavy ends a run whose pages downloaded more than its budget.
var errPageTooHeavy = errors.New("the page downloaded more than the run may read")

// quietTab turns off the domains chromedp enables on a new tab whose
// events carry what the page holds or says. With DOM on, Chromium tells
// Outpost of every node the parser adds (DOM.childNodeCountUpdated: 8 MiB
// of paragraphs made 120,000 events and 100 MB of allocation in Outpost);
// with Runtime on, every console message and exception comes with its
// text, however long (1 MiB messages in a loop: 31 MB in 5 s); Log
// repeats what the page requests. The steps ask the page with JavaScript
// instead and bring back a few numbers. Runtime stays on only for a check
// that fails on console errors, which needs its events.
func quietTab(ctx context.Context, keepRuntime bool) error {
	off := []cdp.Command[cdp.Empty, cdp.Empty]{css.Disable, dom.Disable, log.Disable}
	if !keepRuntime {
		off = append(off, runtime.Disable)
	}
	return chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, c := range off {
			if _, err := cdp.Call(ctx, t, c, cdp.Empty{}); err != nil {
				return fmt.Errorf("%s: %w", c.Method, err)
			}
		}
		return nil
	}))
}

// pageWeight counts what the tab's requests download (Network.dataReceived)
// and cancels the run once it passes the budget, so a page that never
// stops downloading ends the run as body_too_large rather than at its
// deadline. Chromium reports decoded bytes per chunk and the encoded bytes
// late, in a later chunk (often 0 until then), so both are summed and the
// larger is the weight. The URLs and headers of requests and responses
// count too: each comes to Outpost in an event, and a page chooses them
// (1 MiB URLs fetched in a loop: 16 MB in a 5 s run).
type pageWeight struct {
	mu               sync.Mutex
	decoded, encoded int64
	limit            int64
	cancel           context.CancelCauseFunc
}

// observe counts an event; false if it is not one of the network's.
func (w *pageWeight) observe(ev any) bool {
	var decoded, encoded int64
	switch ev := ev.(type) {
	case *network.EventDataReceived:
		decoded, encoded = ev.DataLength, ev.EncodedDataLength
	case *network.EventRequestWillBeSent:
		if ev.Request != nil {
			decoded = int64(len(ev.Request.URL)+len(ev.Request.URLFragment)+len(ev.DocumentURL)) + headerBytes(ev.Request.Headers)
		}
	case *network.EventResponseReceived:
		if ev.Response != nil {
			decoded = int64(len(ev.Response.URL)) + headerBytes(ev.Response.Headers)
		}
	default:
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.decoded += decoded
	w.encoded += encoded
	if max(w.decoded, w.encoded) > w.limit {
		w.cancel(fmt.Errorf("%w: more than %d bytes", errPageTooHeavy, w.limit))
	}
	return true
}

// bytes is what the run's requests weighed so far, as the budget counts it.
func (w *pageWeight) bytes() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return max(w.decoded, w.encoded)
}

func headerBytes(h network.Headers) int64 {
	var n int
	for k, v := range h {
		n += len(k)
		if s, ok := v.(string); ok {
			n += len(s)
		}
	}
	return int64(n)
}

// findJS waits inside the page, up to ms milliseconds, for the first
// element a selector finds (visible, if asked), scrolls it into view and
// returns the middle of its box; null if it never came. Visible is what
// chromedp's WaitVisible means: the element has a box. The answer is made
// of numbers (a page may have patched what this calls), so it stays small.
const findJS = `(async (sel, visible, ms) => {
	const end = Date.now() + ms;
	for (;;) {
		const el = document.querySelector(sel);
		if (el && (!visible || el.offsetWidth || el.offsetHeight || el.getClientRects().length)) {
			el.scrollIntoView({block: "center", inline: "center"});
			const r = el.getBoundingClientRect();
			return {x: +r.left + r.width / 2, y: +r.top + r.height / 2};
		}
		if (Date.now() >= end) return null;
		await new Promise(res => setTimeout(res, 50));
	}
})(%s, %t, %d)`

// errNoElement: the page waited until the deadline and the element never
// came. The page's own clock may end that wait a moment before the step's
// context expires, so it is a timeout by itself (a run under load reported
// connection_error for it).
var errNoElement = errors.New("no element")

// point is where an element is, in the viewport's CSS pixels.
type point struct{ X, Y float64 }

// find waits for an element. A navigation under way destroys the page's
// context while it waits (a click that submits a form, then a wait_for),
// so a protocol error is tried again in the next document until the
// deadline; an exception (a selector that does not parse) is final.
func find(ctx context.Context, sel string, visible bool) (*point, error) {
	quoted, err := json.Marshal(sel)
	if err != nil {
		return nil, fmt.Errorf("selector %q: %w", sel, err)
	}
	for {
		wait := 30 * time.Second
		if dl, ok := ctx.Deadline(); ok {
			wait = time.Until(dl)
		}
		pt, err := chromedp.Run(ctx, chromedp.Evaluate[*point](fmt.Sprintf(findJS, quoted, visible, wait.Milliseconds()), chromedp.EvalAwaitPromise))
		var perr *cdproto.Error
		switch {
		case err == nil && pt == nil:
			return nil, fmt.Errorf("%w %s", errNoElement, sel)
		case err == nil:
			return pt, nil
		case ctx.Err() == nil && errors.As(err, &perr):
			if serr := sleepCtx(ctx, 50*time.Millisecond); serr != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%s: %w", sel, err)
		}
	}
}

// showsText says whether the page's visible text holds s: the search runs
// in the page, so a page of any size costs Outpost one boolean.
func showsText(ctx context.Context, s string) (bool, error) {
	quoted, err := json.Marshal(s)
	if err != nil {
		return false, fmt.Errorf("text %q: %w", s, err)
	}
	return chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`!!document.body && document.body.innerText.includes(%s)`, quoted)))
}

// focus finds an element and gives it the keyboard.
func focus(ctx context.Context, sel string) error {
	if _, err := find(ctx, sel, true); err != nil {
		return err
	}
	quoted, _ := json.Marshal(sel) // find marshalled it already
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const el = document.querySelector(%s); if (el) el.focus(); return !!el; })()`, quoted)))
	return err
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
