package probes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"
)

// loginApp is a small site with a login form: the password "pw" sets a
// session cookie and redirects to a dashboard that greets the user; /broken
// throws in its script.
func loginApp(t testing.TB) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><title>Login</title><form method="post" action="/session">
<input id="user" name="user"><input id="password" name="password" type="password"><button id="go" type="submit">Log in</button></form>`)
	})
	mux.HandleFunc("POST /session", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("password") != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `<!doctype html><p>Wrong password</p>`)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "session", Value: r.FormValue("user"), Path: "/"})
		http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /dashboard", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("session")
		if err != nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		fmt.Fprintf(w, `<!doctype html><h1 id="welcome">Welcome, %s</h1>`, c.Value)
	})
	mux.HandleFunc("GET /broken", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><p>Half a page</p><script>throw new Error("boom")</script>`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// chromium finds Debian's Chromium; the test skips without it, except in
// CI, where .ci/run installs it.
func chromium(t testing.TB) string {
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium missing in CI: .ci/run must install it")
		}
		t.Skip("no chromium (apt-get install chromium)")
	}
	return path
}

// Browser checks in a real headless Chromium against a local login site:
// a journey, a failed login, a missing text, a page that throws, a server
// that is down (no page, so no screenshot; the others keep one); then the
// browser closes with its checks.
func TestBrowserChecks(t *testing.T) {
	b := NewBrowser(chromium(t), "", 2)
	defer b.Close()
	app := loginApp(t)
	login := func(password string) []Step {
		return []Step{
			{Name: "open", Goto: app.URL + "/login"},
			{Fill: &Fill{Selector: "#user", Value: "probe"}},
			{Fill: &Fill{Selector: "#password", Value: password}},
			{Name: "submit", Click: "#go"},
			{Name: "dashboard", WaitFor: "#welcome", Timeout: 2 * time.Second},
		}
	}
	for _, tc := range []struct {
		name    string
		spec    Spec
		outcome Outcome
		reason  Reason
		failed  string
	}{
		{"journey", Spec{Steps: append(login("pw"), Step{ExpectText: "Welcome, probe"})}, Up, ReasonOK, ""},
		{"wrong password", Spec{Steps: login("nope")}, Down, ReasonTimeout, "dashboard"},
		{"missing text", Spec{Steps: append(login("pw"), Step{Name: "greeting", ExpectText: "Welcome, admin"})}, Down, ReasonBodyMismatch, "greeting"},
		{"script error tolerated", Spec{Steps: []Step{{Goto: app.URL + "/broken"}}}, Up, ReasonOK, ""},
		{"script error", Spec{Steps: []Step{{Goto: app.URL + "/broken"}}, FailOnConsoleErrors: true}, Down, ReasonBodyMismatch, ""},
		{"server down", Spec{Steps: []Step{{Name: "open", Goto: "http://" + closedPort(t) + "/"}}}, Down, ReasonConnectionRefused, "open"},
		// After the journey's login: no session is left for another run.
		{"fresh session", Spec{Steps: []Step{{Goto: app.URL + "/dashboard"}, {Name: "dashboard", WaitFor: "#welcome", Timeout: time.Second}}}, Down, ReasonTimeout, "dashboard"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Kind = "browser"
			p, err := New(tc.spec, Options{Browser: b})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			r := p.Run(ctx)
			if r.Outcome != tc.outcome || r.Reason != tc.reason {
				t.Fatalf("%+v, want %s %s", r, tc.outcome, tc.reason)
			}
			if tc.failed != "" && r.Details["failed_step"] != tc.failed {
				t.Errorf("the failure names %v, want %s", r.Details["failed_step"], tc.failed)
			}
			if tc.failed != "" && tc.reason != ReasonConnectionRefused && !bytes.HasPrefix(r.Screenshot, []byte("\x89PNG")) {
				t.Errorf("no screenshot of the failed page (%d bytes)", len(r.Screenshot))
			}
			if tc.name == "journey" {
				if steps, _ := r.Details["step_ms"].(map[string]any); steps["dom_content_loaded_ms"] == nil || steps["submit_ms"] == nil {
					t.Errorf("timings %+v", r.Details)
				}
			}
		})
	}
	p, _ := New(Spec{Kind: "browser", Steps: []Step{{Goto: app.URL + "/login"}}}, Options{Browser: b})
	if err := p.(*BrowserCheck).Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r := p.Run(ctx); r.Outcome != Down || r.Reason != ReasonInternal {
		t.Errorf("a run after the browser closed: %+v", r)
	}
}

func TestBrowserSpecErrors(t *testing.T) {
	b := NewBrowser("chromium", "", 1)
	for _, tc := range []struct {
		spec  Spec
		opts  Options
		field string
	}{
		{Spec{Steps: []Step{{Goto: "http://127.0.0.1/"}}}, Options{}, "kind"},
		{Spec{}, Options{Browser: b}, "steps"},
		{Spec{Steps: []Step{{Click: "#go"}}}, Options{Browser: b}, "steps[0]"},
		{Spec{Steps: []Step{{Goto: "ftp://x"}}}, Options{Browser: b}, "steps[0].goto"},
		{Spec{Steps: []Step{{Goto: "http://127.0.0.1/"}, {Click: "#a", WaitFor: "#b"}}}, Options{Browser: b}, "steps[1]"},
		{Spec{Steps: []Step{{Goto: "http://127.0.0.1/"}, {Fill: &Fill{Value: "x"}}}}, Options{Browser: b}, "steps[1].fill.selector"},
	} {
		tc.spec.Kind = "browser"
		_, err := New(tc.spec, tc.opts)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%+v: %v, want an error on %s", tc.spec.Steps, err, tc.field)
		}
	}
}
