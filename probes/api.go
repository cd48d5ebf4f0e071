package probes

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Step is one step of a journey. For kind api: a request with the http
// kind's expectations, a timeout of its own, and values captured from the
// response for later steps, which use them as ${steps.NAME.VAR}. For kind
// browser: one action in the page (goto, click, fill, wait_for or
// expect_text) with a timeout of its own.
type Step struct {
	Name    string             `yaml:"name"`
	URL     string             `yaml:"url"`
	Method  string             `yaml:"method"`
	Headers map[string]string  `yaml:"headers"`
	Body    string             `yaml:"body"`
	Timeout time.Duration      `yaml:"timeout"`
	Expect  Expect             `yaml:"expect"`
	Capture map[string]Capture `yaml:"capture"`

	// browser steps: exactly one of these
	Goto       string `yaml:"goto"`        // a URL to load
	Click      string `yaml:"click"`       // a CSS selector to click
	Fill       *Fill  `yaml:"fill"`        // a field to type into
	WaitFor    string `yaml:"wait_for"`    // a CSS selector to wait for, visible
	ExpectText string `yaml:"expect_text"` // text the page must show
}

// Fill types a value into the element a selector finds.
type Fill struct {
	Selector string `yaml:"selector"`
	Value    string `yaml:"value"`
}

// Capture takes a value from a step's response: a JSON path (as in
// expect.json) or a header.
type Capture struct {
	JSON   string `yaml:"json"`
	Header string `yaml:"header"`
}

// stepRef is a ${steps.NAME.VAR} in a step's URL, headers or body.
var stepRef = regexp.MustCompile(`\$\{steps\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\}`)

// API runs its steps in order, each over a fresh connection, until one
// fails or all pass, within the check's timeout.
type API struct {
	steps []Step
	// reqs are the steps as http probes, built once (expectations, TLS,
	// ca_file read); a run fills in only the URL, headers and body.
	reqs []*HTTP
	max  time.Duration
}

func newAPI(s Spec, o Options) (Probe, error) {
	if len(s.Steps) == 0 {
		return nil, fieldErr("steps", "at least one step is required")
	}
	if len(s.Steps) > 20 {
		return nil, fieldErr("steps", "at most 20 steps, got %d", len(s.Steps))
	}
	known := map[string]map[string]bool{}
	var reqs []*HTTP
	for i, st := range s.Steps {
		p := fmt.Sprintf("steps[%d]", i)
		switch {
		case st.Name == "":
			return nil, fieldErr(p+".name", "is required")
		case known[st.Name] != nil:
			return nil, fieldErr(p+".name", "step %q is named twice", st.Name)
		case st.Timeout < 0:
			return nil, fieldErr(p+".timeout", "must not be negative")
		}
		texts := []string{st.URL, st.Body}
		for _, v := range st.Headers {
			texts = append(texts, v)
		}
		for _, t := range texts {
			for _, m := range stepRef.FindAllStringSubmatch(t, -1) {
				if !known[m[1]][m[2]] {
					return nil, fieldErr(p, "%s: no earlier step %q captures %q", m[0], m[1], m[2])
				}
			}
		}
		// The step must make a valid http probe; placeholders stand for
		// values only a run knows.
		req, err := newHTTP(stepSpec(s, st, func(string) string { return "x" }), o)
		if err != nil {
			if fe, ok := err.(*FieldError); ok {
				field := fe.Field
				if field == "target" {
					field = "url"
				}
				return nil, fieldErr(p+"."+field, "%s", fe.Msg)
			}
			return nil, err
		}
		caps := map[string]bool{}
		for name, c := range st.Capture {
			if (c.JSON == "") == (c.Header == "") {
				return nil, fieldErr(p+".capture."+name, "set exactly one of json or header")
			}
			caps[name] = true
		}
		known[st.Name] = caps
		h := req.(*HTTP)
		for _, c := range st.Capture {
			h.judgesBody = h.judgesBody || c.JSON != "" // a value captured from a cut body would be wrong
		}
		reqs = append(reqs, h)
	}
	return &API{steps: s.Steps, reqs: reqs, max: s.expect().MaxLatency}, nil
}

// stepSpec is a step as an http spec, its placeholders filled by value.
func stepSpec(s Spec, st Step, value func(ref string) string) Spec {
	fill := func(t string) string { return stepRef.ReplaceAllStringFunc(t, value) }
	hs := make(map[string]string, len(st.Headers))
	for k, v := range st.Headers {
		hs[k] = fill(v)
	}
	return Spec{Kind: "http", Target: fill(st.URL), Method: st.Method, Headers: hs, Body: fill(st.Body), Expect: &st.Expect,
		FollowRedirects: s.FollowRedirects, MaxRedirects: s.MaxRedirects, CAFile: s.CAFile, SkipTLSVerify: s.SkipTLSVerify,
		ServerName: s.ServerName, MaxBodyBytes: s.MaxBodyBytes}
}

// Run performs the steps; a failure names its step (for operators) and
// carries that step's reason.
func (p *API) Run(ctx context.Context) Result {
	start := time.Now()
	vars := map[string]string{}
	fill := func(t string) string {
		return stepRef.ReplaceAllStringFunc(t, func(ref string) string {
			m := stepRef.FindStringSubmatch(ref)
			return vars[m[1]+"."+m[2]]
		})
	}
	timings := map[string]any{}
	for i, st := range p.steps {
		req := *p.reqs[i]
		req.url, req.body = fill(st.URL), fill(st.Body)
		req.headers = make(http.Header, len(st.Headers))
		for k, v := range st.Headers {
			req.headers.Set(k, fill(v))
		}
		sctx, cancel := ctx, func() {}
		if st.Timeout > 0 {
			sctx, cancel = context.WithTimeout(ctx, st.Timeout)
		}
		r, header, body := req.exchange(sctx)
		cancel()
		timings[st.Name+"_ms"] = ms(r.Latency)
		if r.Outcome == Down {
			r.Message = fmt.Sprintf("step %s: %s", st.Name, r.Message)
			r.Latency = elapsed(start)
			r.detail("failed_step", st.Name)
			r.detail("steps_passed", i)
			r.detail("step_ms", timings)
			return r
		}
		for name, c := range st.Capture {
			got, why := capture(c, header, body)
			if why != "" {
				res := down(ReasonBodyMismatch, elapsed(start), "step %s: capture %s: %s", st.Name, name, why)
				res.detail("failed_step", st.Name)
				res.detail("steps_passed", i)
				return res
			}
			vars[st.Name+"."+name] = got
		}
	}
	r := slowCheck(up(elapsed(start)), p.max)
	r.detail("steps_passed", len(p.steps))
	r.detail("step_ms", timings)
	return r
}

// capture reads one value from a response.
func capture(c Capture, header map[string][]string, body []byte) (string, string) {
	if c.Header != "" {
		for k, v := range header {
			if strings.EqualFold(k, c.Header) && len(v) > 0 {
				return v[0], ""
			}
		}
		return "", fmt.Sprintf("no header %s", c.Header)
	}
	v, why := jsonLookup(body, strings.Split(c.JSON, "."), c.JSON)
	if why != "" {
		return "", why
	}
	return jsonText(v), ""
}
