package probes

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// loginSite wants a login (POST /login with the right password) and the
// token it returns, as a bearer token and a session header, on /dashboard.
func loginSite(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ User, Password string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.User != "probe" || in.Password != "pw" {
			http.Error(w, `{"error":"bad login"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Session", "s-42")
		w.Write([]byte(`{"data":{"token":"tok-7"}}`))
	})
	mux.HandleFunc("GET /dashboard", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-7" || r.Header.Get("X-Session") != "s-42" {
			http.Error(w, "who are you?", http.StatusForbidden)
			return
		}
		w.Write([]byte(`{"widgets":3,"user":"probe"}`))
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestAPISteps(t *testing.T) {
	srv := loginSite(t)
	login := func(password string) Step {
		return Step{Name: "login", Method: "POST", URL: srv.URL + "/login", Body: `{"user":"probe","password":"` + password + `"}`,
			Capture: map[string]Capture{"token": {JSON: "data.token"}, "session": {Header: "X-Session"}}}
	}
	dashboard := Step{Name: "dashboard", URL: srv.URL + "/dashboard",
		Headers: map[string]string{"Authorization": "Bearer ${steps.login.token}", "X-Session": "${steps.login.session}"},
		Expect:  Expect{JSON: []JSONExpect{{Path: "widgets", Equals: "3"}}}}
	for _, tc := range []struct {
		name    string
		steps   []Step
		max     time.Duration
		outcome Outcome
		reason  Reason
		failed  string
	}{
		{"journey", []Step{login("pw"), dashboard}, 0, Up, ReasonOK, ""},
		{"wrong password", []Step{login("nope"), dashboard}, 0, Down, ReasonStatusMismatch, "login"},
		{"capture missing", []Step{{Name: "login", Method: "POST", URL: srv.URL + "/login", Body: `{"user":"probe","password":"pw"}`,
			Capture: map[string]Capture{"token": {JSON: "data.nothing"}}}}, 0, Down, ReasonBodyMismatch, "login"},
		{"expectation", []Step{login("pw"), {Name: "dashboard", URL: dashboard.URL, Headers: dashboard.Headers,
			Expect: Expect{JSON: []JSONExpect{{Path: "widgets", Equals: "4"}}}}}, 0, Down, ReasonBodyMismatch, "dashboard"},
		{"step timeout", []Step{login("pw"), {Name: "report", URL: srv.URL + "/slow", Timeout: 100 * time.Millisecond}}, 0, Down, ReasonTimeout, "report"},
		{"slow journey", []Step{login("pw"), dashboard}, time.Nanosecond, Degraded, ReasonSlow, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(Spec{Kind: "api", Steps: tc.steps, Expect: &Expect{MaxLatency: tc.max}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			r := p.Run(ctx)
			if r.Outcome != tc.outcome || r.Reason != tc.reason {
				t.Fatalf("%+v, want %s %s", r, tc.outcome, tc.reason)
			}
			if tc.failed != "" && (r.Details["failed_step"] != tc.failed || !strings.HasPrefix(r.Message, "step "+tc.failed+":")) {
				t.Errorf("the failure does not name step %s: %+v", tc.failed, r)
			}
			if tc.outcome == Up && r.Details["steps_passed"] != len(tc.steps) {
				t.Errorf("details %+v", r.Details)
			}
		})
	}
}

func TestAPISpecErrors(t *testing.T) {
	ok := Step{Name: "a", URL: "http://127.0.0.1/", Capture: map[string]Capture{"t": {JSON: "x"}}}
	for _, tc := range []struct {
		steps []Step
		field string
	}{
		{nil, "steps"},
		{[]Step{{URL: "http://127.0.0.1/"}}, "steps[0].name"},
		{[]Step{ok, {Name: "a", URL: "http://127.0.0.1/"}}, "steps[1].name"},
		{[]Step{{Name: "a", URL: "ftp://127.0.0.1/"}}, "steps[0].url"},
		{[]Step{ok, {Name: "b", URL: "http://127.0.0.1/${steps.a.nope}"}}, "steps[1]"},
		{[]Step{{Name: "b", URL: "http://127.0.0.1/${steps.later.t}"}, ok}, "steps[0]"},
		{[]Step{{Name: "a", URL: "http://127.0.0.1/", Capture: map[string]Capture{"t": {}}}}, "steps[0].capture.t"},
		{[]Step{{Name: "a", URL: "http://127.0.0.1/", Expect: Expect{Status: []string{"abc"}}}}, "steps[0].expect.status"},
	} {
		_, err := New(Spec{Kind: "api", Steps: tc.steps}, Options{})
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%+v: %v, want an error on %s", tc.steps, err, tc.field)
		}
	}
}
